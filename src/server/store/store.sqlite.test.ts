import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from './store.case.js';
import { Store } from './store.js';

storeContract('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-store-'));
  const store = await Store.open({ engine: 'sqlite', file: join(dir, 'test.sqlite3') });
  return {
    store,
    async dispose() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
