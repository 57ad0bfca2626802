import { afterEach, describe, expect, it } from 'vitest';
import { chorusCommand, chorusCommandFor, chorusCommandForOthers, givenFlags, relaunchCommand, setChorusProfile, shellWord } from './invocation.js';

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

  it('names the server, data and ports it was started with, or the same command could start another, empty server', () => {
    const options = givenFlags({ data: '/srv/chorus data', httpPort: '18789', tcpPort: undefined, port: '18790' });
    expect(options).toEqual(['--data', "'/srv/chorus data'", '--http-port', '18789', '--port', '18790']);
    expect(relaunchCommand({ npm_command: 'exec' }, 'up', options)).toBe("npx chorus up --data '/srv/chorus data' --http-port 18789 --port 18790");
    expect(relaunchCommand({ npm_lifecycle_event: 'start' }, 'up', ['--data', '/srv/x'])).toBe('npm start -- --data /srv/x');
    expect(relaunchCommand({}, 'client', givenFlags({ server: 'https://192.168.1.20:6789' }))).toBe('chorus client --server https://192.168.1.20:6789');
  });

  describe('with a --profile given', () => {
    afterEach(() => setChorusProfile(undefined));

    it('names it in the hints for this person, and not in those for others', () => {
      setChorusProfile('/home/grace/chorus-grace');
      expect(chorusCommand('login')).toBe('chorus --profile /home/grace/chorus-grace login');
      expect(chorusCommandForOthers('join ABCDE-12345')).toBe('chorus join ABCDE-12345');
      expect(relaunchCommand({}, 'client')).toBe('chorus --profile /home/grace/chorus-grace client');
      expect(relaunchCommand({ npm_lifecycle_event: 'start' }, 'up')).toBe('npm start -- --profile /home/grace/chorus-grace');
      setChorusProfile(undefined);
      expect(chorusCommand('login')).toBe('chorus login');
    });

    it('quotes a folder the shell would read otherwise', () => {
      setChorusProfile("/tmp/Grace's chats");
      expect(chorusCommand('login')).toBe("chorus --profile '/tmp/Grace'\\''s chats' login");
      expect(shellWord('/tmp/a b')).toBe("'/tmp/a b'");
      expect(shellWord('$HOME/x')).toBe("'$HOME/x'");
      expect(shellWord('~/x')).toBe("'~/x'");
      expect(shellWord('./work/chorus-1.profile')).toBe('./work/chorus-1.profile');
    });
  });
});
