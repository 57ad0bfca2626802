import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The browser tests need the built UI. Builds web/dist with Vite when it is missing or older
 * than any of its sources. Test files run in parallel processes, so one builds while the others
 * wait on a lock folder, then find the build fresh.
 */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCES = ['web/src', 'web/public', 'web/index.html', 'web/vite.config.ts', 'src/agent/ui-protocol.ts', 'src/protocol'];
const BUILT = join(REPO, 'web/dist/index.html');
const LOCK = join(tmpdir(), `chorus-ui-build-${createHash('sha256').update(REPO).digest('hex').slice(0, 12)}.lock`);
const STALE_LOCK_MS = 120_000;

export async function ensureUiBuilt(): Promise<void> {
  if (!stale()) return;
  await withLock(() => {
    if (!stale()) return;
    const result = spawnSync(process.execPath, [join(REPO, 'node_modules/vite/bin/vite.js'), 'build', '--config', join(REPO, 'web/vite.config.ts')], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, NODE_ENV: 'production' },
    });
    if (result.status !== 0) throw new Error(`vite build failed:\n${result.stdout}\n${result.stderr}`);
  });
}

function stale(): boolean {
  let built: number;
  try {
    built = statSync(BUILT).mtimeMs;
  } catch {
    return true;
  }
  return SOURCES.some((source) => newest(join(REPO, source)) > built);
}

function newest(path: string): number {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newest(join(path, name))));
}

async function withLock(build: () => void): Promise<void> {
  const deadline = Date.now() + STALE_LOCK_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      let age = 0;
      try {
        age = Date.now() - statSync(LOCK).mtimeMs;
      } catch {
        continue;
      }
      if (age > STALE_LOCK_MS || Date.now() > deadline) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    build();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
