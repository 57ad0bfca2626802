import type { Settings } from '../protocol/resources.js';
import type { User } from './accounts.js';
import type { ReadPositionStore } from './store/read-positions.js';

export type { Settings };

/** Per-account settings (GET and PUT /api/me/settings): for now whether read positions are shared. */
export class UserSettings {
  constructor(private readonly store: Pick<ReadPositionStore, 'sharesReceipts' | 'setSharesReceipts'>) {}

  async get(user: User): Promise<Settings> {
    return { receipts: await this.store.sharesReceipts(user.id) };
  }

  /** Turning receipts off hides the user's positions from the next listing and event on: nothing already sent is recalled. */
  async update(user: User, input: Settings): Promise<Settings> {
    await this.store.setSharesReceipts(user.id, input.receipts);
    return this.get(user);
  }
}
