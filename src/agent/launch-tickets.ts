import { createHash, randomBytes } from 'node:crypto';

/**
 * The one-time tickets in launch links (http://127.0.0.1:PORT/#ticket). A ticket rides in the
 * URL fragment, which browsers never send to any server, and admits one browser tab once: the
 * tab swaps it for a key of its own (see gate.ts), and the link is dead after that, so an
 * address copied from history or another browser profile opens nothing. Unused tickets expire.
 * Tickets are kept by their hash, so that looking one up does not compare secrets byte by byte.
 */
export const TICKET_LIFETIME_MS = 15 * 60_000;
/** A few links may be outstanding (the user ran `chorus client` again before opening one). */
const MAX_OUTSTANDING = 8;

export class LaunchTickets {
  /** Hash of each outstanding ticket → when it expires. */
  private readonly outstanding = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new ticket: 192 random bits, base64url. */
  issue(): string {
    this.dropExpired();
    while (this.outstanding.size >= MAX_OUTSTANDING) this.outstanding.delete(this.outstanding.keys().next().value!);
    const ticket = randomBytes(24).toString('base64url');
    this.outstanding.set(hash(ticket), this.now() + TICKET_LIFETIME_MS);
    return ticket;
  }

  /** True once for a ticket issued here and not expired; false ever after. */
  redeem(ticket: string): boolean {
    this.dropExpired();
    const key = hash(ticket);
    if (!this.outstanding.has(key)) return false;
    this.outstanding.delete(key);
    return true;
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [key, expires] of this.outstanding) if (expires <= now) this.outstanding.delete(key);
  }
}

function hash(ticket: string): string {
  return createHash('sha256').update(ticket).digest('base64url');
}
