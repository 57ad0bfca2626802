import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LAUNCH_PAGE, openBrowser } from './open-browser.js';

describe('openBrowser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const url = 'http://127.0.0.1:41234/?secret=s3cr3t-value&x="<y>';

  it('never puts the secret address on the browser command line, only a private page that redirects to it', () => {
    const launched: string[][] = [];
    openBrowser(url, dir, (command, args) => launched.push([command, ...args]), 'linux');
    expect(launched).toEqual([['xdg-open', join(dir, LAUNCH_PAGE)]]);
    expect(launched.flat().join(' ')).not.toContain('s3cr3t');
    expect(statSync(join(dir, LAUNCH_PAGE)).mode & 0o777).toBe(0o600);
    const page = readFileSync(join(dir, LAUNCH_PAGE), 'utf8');
    expect(page).toContain('content="0;url=http://127.0.0.1:41234/?secret=s3cr3t-value&amp;x=&quot;&lt;y>"');
  });

  it('creates a missing profile folder for it, readable by the user only', () => {
    const fresh = join(dir, 'new-profile');
    const launched: string[][] = [];
    openBrowser(url, fresh, (command, args) => launched.push([command, ...args]), 'linux');
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(launched).toEqual([['xdg-open', join(fresh, LAUNCH_PAGE)]]);
  });

  it('uses the platform opener', () => {
    const launched: string[][] = [];
    openBrowser(url, dir, (command, args) => launched.push([command, ...args]), 'darwin');
    expect(launched[0]?.[0]).toBe('open');
  });
});
