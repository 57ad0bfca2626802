import { NonceSource, newChatKey } from '../protocol/crypto.js';
import type { Store } from './store/store.js';

export interface ChatKey {
  epoch: number;
  key: Buffer;
  /** Nonces for sealing under this key; lives and dies with the key. */
  nonces: NonceSource;
}

/**
 * The symmetric multicast keys, one current key per chat. Keys live only in this process's
 * memory: each start begins a new epoch for every chat it speaks for, so a nonce counter that
 * restarts with the process never counts again under a key it used before. Rotation (a member
 * leaves) also begins a new epoch; the previous key is kept so its datagrams still in flight can
 * be explained to members who ask.
 */
export class ChatKeys {
  private readonly current = new Map<string, Promise<ChatKey>>();
  private readonly previous = new Map<string, ChatKey>();

  constructor(private readonly store: Store) {}

  /** The chat's current key, starting a new epoch if this process has none yet. */
  keyFor(chatCode: string): Promise<ChatKey> {
    return this.current.get(chatCode) ?? this.rotate(chatCode);
  }

  /** The key of the epoch before the current one, while it is remembered. */
  previousKeyFor(chatCode: string): ChatKey | undefined {
    return this.previous.get(chatCode);
  }

  rotate(chatCode: string): Promise<ChatKey> {
    const before = this.current.get(chatCode);
    const next = (async () => {
      const old = await before?.catch(() => undefined);
      const epoch = await this.store.chats.bumpKeyEpoch(chatCode);
      if (old) this.previous.set(chatCode, old);
      return { epoch, key: newChatKey(), nonces: new NonceSource() };
    })();
    this.current.set(chatCode, next);
    next.catch(() => {
      if (this.current.get(chatCode) === next) this.current.delete(chatCode);
    });
    return next;
  }
}
