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
 * leaves or is removed) also begins a new epoch. Receivers keep the previous key for a short
 * grace themselves (client/receiver.ts), so the server needs only the current one.
 */
export class ChatKeys {
  private readonly current = new Map<string, Promise<ChatKey>>();

  constructor(private readonly store: Store) {}

  /** The chat's current key, starting a new epoch if this process has none yet. */
  keyFor(chatCode: string): Promise<ChatKey> {
    return this.current.get(chatCode) ?? this.rotate(chatCode);
  }

  /** Starts a new epoch for a chat this process has a key for (cluster mode: a removal elsewhere); undefined otherwise. */
  rotateIfHeld(chatCode: string): Promise<ChatKey> | undefined {
    return this.current.has(chatCode) ? this.rotate(chatCode) : undefined;
  }

  /** The chats this process has a key for. */
  heldChats(): string[] {
    return [...this.current.keys()];
  }

  rotate(chatCode: string): Promise<ChatKey> {
    const before = this.current.get(chatCode);
    const next = (async () => {
      // One rotation at a time per chat, so epochs are taken in the order rotations were asked.
      await before?.catch(() => undefined);
      const epoch = await this.store.chats.bumpKeyEpoch(chatCode);
      return { epoch, key: newChatKey(), nonces: new NonceSource() };
    })();
    this.current.set(chatCode, next);
    next.catch(() => {
      if (this.current.get(chatCode) === next) this.current.delete(chatCode);
    });
    return next;
  }
}
