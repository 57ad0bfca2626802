import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTROL_SOCKET, askRunningAgent, listenControl } from './control-socket.js';

describe('the control socket', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-control-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives a new launch link from the running agent, over a socket only the user can reach', async () => {
    let issued = 0;
    const control = await listenControl(dir, () => `http://127.0.0.1:4242/#ticket=${'T'.repeat(31)}${++issued}`);
    expect(control).toBeDefined();
    expect(statSync(join(dir, CONTROL_SOCKET)).mode & 0o777).toBe(0o600);
    expect(await askRunningAgent(dir)).toBe(`http://127.0.0.1:4242/#ticket=${'T'.repeat(31)}1`);
    expect(await askRunningAgent(dir)).toBe(`http://127.0.0.1:4242/#ticket=${'T'.repeat(31)}2`);
    await control!.close();
    expect(await askRunningAgent(dir)).toBeUndefined();
  });

  it('finds no agent where none runs, and replaces what a dead one left', async () => {
    expect(await askRunningAgent(dir)).toBeUndefined();
    writeFileSync(join(dir, CONTROL_SOCKET), 'left behind');
    expect(await askRunningAgent(dir)).toBeUndefined();
    const control = await listenControl(dir, () => 'http://127.0.0.1:4242/#ticket=abc');
    expect(await askRunningAgent(dir)).toBe('http://127.0.0.1:4242/#ticket=abc');
    await control!.close();
  });
});
