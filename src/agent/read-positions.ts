import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePrivateJsonFile } from '../client/private-json-file.js';

/**
 * How far the user has read in each chat, kept beside the profile (read-positions.json), so
 * that unread counts survive a restart of the agent. Keyed by server and user: one profile
 * folder may see several of either over time. Losing the file only loses unread counts.
 */
export const READ_POSITIONS_FILE = 'read-positions.json';
const SAVE_DELAY_MS = 500;

type Positions = Record<string, Record<string, number>>;

export class ReadPositions {
  private positions: Positions = {};
  private saveTimer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly dir: string) {}

  static async load(dir: string): Promise<ReadPositions> {
    const store = new ReadPositions(dir);
    try {
      const parsed: unknown = JSON.parse(await readFile(join(dir, READ_POSITIONS_FILE), 'utf8'));
      if (typeof parsed === 'object' && parsed !== null) store.positions = parsed as Positions;
    } catch {
      // none yet, or unreadable: start afresh
    }
    return store;
  }

  get(account: string, chat: string): number | undefined {
    const seq = this.positions[account]?.[chat];
    return typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : undefined;
  }

  set(account: string, chat: string, seq: number): void {
    if (this.get(account, chat) === seq) return;
    (this.positions[account] ??= {})[chat] = seq;
    this.scheduleSave();
  }

  /** Writes what is pending now (on shutdown). */
  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.write());
    }
    await this.saving;
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.write());
    }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  private async write(): Promise<void> {
    try {
      await writePrivateJsonFile(this.dir, READ_POSITIONS_FILE, this.positions, { pretty: false });
    } catch {
      // Unread counts are a convenience: never fail the agent over them.
    }
  }
}
