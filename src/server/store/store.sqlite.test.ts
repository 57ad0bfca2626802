import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from './store.case.js';

storeContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-store-'));
  return {
    target: { engine: 'sqlite', file: join(dir, 'test.sqlite3') },
    async dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
