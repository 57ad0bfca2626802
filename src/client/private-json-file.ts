import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes `value` as JSON to `dir/name`, readable by the user only, atomically: a private
 * temporary file in the same folder (exactly 0600: open's mode is filtered by the umask), then
 * renamed over, so a reader never sees half a file. `sync` flushes it to disk before the rename,
 * for files whose loss would cost the user something (a login). Used for every file the client
 * and the agent keep in a profile folder.
 */
export async function writePrivateJsonFile(dir: string, name: string, value: unknown, { pretty = true, sync = false } = {}): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)}\n`, 'utf8');
    if (sync) await handle.sync();
    await handle.close();
    await rename(temp, join(dir, name));
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
}
