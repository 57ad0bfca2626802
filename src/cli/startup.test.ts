import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every `chorus` command starts a Node process, and a script may run many (`chorus send` in a
 * loop): what the CLI loads before it parses its arguments is paid by all of them. The server's
 * packages, the agent's, and the password estimator's word lists are loaded by dynamic import,
 * only by the commands that use them (`server` and `up`, `client` and `up`, `register`).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'chorus-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Packages only some commands need. */
const LOADED_ON_DEMAND = [
  '@zxcvbn-ts', // password strength: `register` (its word lists, about 0.1 s)
  'fastify', // the server, and the agent's UI server
  '@fastify',
  'better-sqlite3',
  'kysely',
  'pg',
  'ws',
];

/** The URL of every module the CLI loads by import for `args` (a loader hook writes them down). */
function modulesLoadedFor(args: string[]): string[] {
  const out = join(dir, `loaded-${args.join('-')}.txt`);
  const hook = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(${JSON.stringify(out)}, url + '\\n');
  return next(url, context);
}`;
  const probe = join(dir, 'log-loads.mjs');
  writeFileSync(probe, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));\n`);
  writeFileSync(out, '');
  execFileSync(process.execPath, ['--import', probe, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, stdio: 'pipe' });
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

describe('chorus startup', () => {
  it('loads none of the server, agent or password packages for a client command', () => {
    for (const args of [['--help'], ['send', '--help'], ['tail', '--help']]) {
      const loaded = modulesLoadedFor(args);
      // The probe works: commander is what every command needs.
      expect(loaded.some((path) => path.includes('/node_modules/commander/'))).toBe(true);
      const packages = loaded.filter((path) => LOADED_ON_DEMAND.some((name) => path.includes(`/node_modules/${name}/`)));
      expect(packages, args.join(' ')).toEqual([]);
    }
  });
});
