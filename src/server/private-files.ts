import { chmodSync, mkdirSync, statSync } from 'node:fs';

/**
 * The data folder holds every message, every email, the password hashes and the server's
 * signing key, so it is the owner's alone: 0700, its files 0600. A mode given when creating is
 * not enough: it is filtered by the umask, and a folder or file that already existed (`mkdir -m
 * 755 data`, a backup restored, an older version) keeps whatever mode it had. So every start
 * sets the modes of what is there.
 */

/** Creates `dir` if missing and makes it 0700. */
export function makePrivateFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  restrict(dir, 0o700);
}

/** Makes an existing file 0600; a missing one is left to be created (privately) by its writer. */
export function makePrivateFile(file: string): void {
  restrict(file, 0o600);
}

function restrict(path: string, mode: number): void {
  let current: number;
  try {
    current = statSync(path).mode & 0o777;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (current === mode) return;
  try {
    chmodSync(path, mode);
  } catch (error) {
    // Not ours to change (another owner): refuse to start rather than serve from it.
    const octal = mode.toString(8).padStart(4, '0');
    throw new Error(`${path} has mode ${current.toString(8).padStart(4, '0')} and cannot be made ${octal} (${(error as NodeJS.ErrnoException).code}): run chmod ${octal.slice(1)} ${path} as its owner`);
  }
}
