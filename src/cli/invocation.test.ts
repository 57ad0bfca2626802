import { describe, expect, it } from 'vitest';
import { chorusCommandFor, relaunchCommand } from './invocation.js';

describe('how the person runs chorus', () => {
  it('is "npx chorus" when npm started it (npx, npm start, npm run), else "chorus"', () => {
    expect(chorusCommandFor({ npm_command: 'exec' })).toBe('npx chorus');
    expect(chorusCommandFor({ npm_lifecycle_event: 'start', npm_command: 'start' })).toBe('npx chorus');
    expect(chorusCommandFor({ npm_lifecycle_event: 'chorus', npm_command: 'run-script' })).toBe('npx chorus');
    expect(chorusCommandFor({ PATH: '/usr/bin' })).toBe('chorus');
  });

  it('starts the web client again the way it was started', () => {
    expect(relaunchCommand({ npm_lifecycle_event: 'start' }, 'up')).toBe('npm start');
    expect(relaunchCommand({ npm_command: 'exec' }, 'up')).toBe('npx chorus up');
    expect(relaunchCommand({ npm_command: 'exec' }, 'client')).toBe('npx chorus client');
    expect(relaunchCommand({}, 'client')).toBe('chorus client');
  });
});
