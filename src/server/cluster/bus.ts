import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, Events, type NatsConnection, type NatsError, connect } from 'nats';
import type { Logger } from 'pino';

/** How long a forwarded send may wait for the owner's answer (a commit, or a refusal). */
export const REQUEST_TIMEOUT_MS = 5_000;

const MAC_BYTES = 32;
// What one bus message carries at most, in text (NATS refuses payloads over its max_payload,
// 1 MiB by default), and what each item is counted for besides its text (ids, names, JSON).
const PART_TEXT_BYTES = 256 * 1024;
const PART_ITEM_OVERHEAD_BYTES = 200;

/** `items` in order, cut into parts that each fit one bus message (an item larger than a part goes alone). */
export function busSizedParts<T>(items: readonly T[], textOf: (item: T) => string): T[][] {
  const parts: T[][] = [];
  let bytes = Infinity;
  for (const item of items) {
    const size = Buffer.byteLength(textOf(item), 'utf8') + PART_ITEM_OVERHEAD_BYTES;
    if (bytes + size > PART_TEXT_BYTES) {
      parts.push([]);
      bytes = 0;
    }
    parts.at(-1)!.push(item);
    bytes += size;
  }
  return parts;
}

/**
 * The cluster's bus: NATS core subjects carrying JSON. The one file that knows NATS: the rest of
 * the cluster publishes values, subscribes with handlers and asks requests. The connection
 * reconnects forever on its own; listeners hear each loss and each return (after a return every
 * server checks the database for what it missed, cluster/site-feed.ts).
 *
 * Every message starts with an HMAC-SHA256 of its subject and body under the cluster's secret
 * (kept in the shared database): whoever can reach NATS but not the database can neither make
 * a server multicast a forged message nor commit a forged send. A message that fails is dropped
 * and logged (never its content).
 */
export class Bus {
  private readonly reconnected: (() => void)[] = [];
  private readonly disconnected: (() => void)[] = [];

  readonly stats = { rejected: 0 };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly secret: Buffer,
    private readonly logger: Pick<Logger, 'info' | 'warn'>,
  ) {
    void this.watchStatus();
  }

  /** Connects once, or throws an error naming where (never the URL's credentials). */
  static async connect(url: string, name: string, secret: Buffer, logger: Pick<Logger, 'info' | 'warn'>): Promise<Bus> {
    try {
      const nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5_000, maxPingOut: 2 });
      return new Bus(nc, secret, logger);
    } catch (error) {
      throw new Error(`cannot reach NATS at ${whereOf(url)}: ${(error as Error).message}`);
    }
  }

  /** Best effort, as NATS core is: what is lost on the way is read from the database (site-feed.ts). */
  publish(subject: string, value: unknown): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(subject, this.seal(subject, value));
    } catch (error) {
      this.logger.warn({ err: error, subject }, 'bus publish failed');
    }
  }

  /** Calls `handler` with each value on the subject; a request's answer is what it resolves to. */
  subscribe(subject: string, handler: (value: unknown) => unknown): void {
    this.nc.subscribe(subject, {
      callback: (error, message) => {
        if (error) return this.logger.warn({ err: error, subject }, 'bus subscription failed');
        const value = this.open(subject, message.data);
        if (value === undefined) return;
        const answer = Promise.resolve().then(() => handler(value));
        const reply = message.reply;
        if (reply) void answer.then((result) => this.respond(message, reply, result), (failure) => this.respond(message, reply, { error: String(failure) }));
      },
    });
  }

  /** Asks whoever listens on the subject; rejects with BusUnreachable when nobody answers in time. */
  async request(subject: string, value: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    if (this.nc.isClosed()) throw new BusUnreachable(subject, 'the bus connection is closed');
    try {
      const answer = await this.nc.request(subject, this.seal(subject, value), { timeout: timeoutMs });
      const opened = answer.subject ? this.open(answer.subject, answer.data) : undefined;
      if (opened === undefined) throw new BusUnreachable(subject, 'an answer that did not authenticate');
      return opened;
    } catch (error) {
      const code = (error as NatsError).code;
      if (code === ErrorCode.NoResponders || code === ErrorCode.Timeout || code === ErrorCode.Disconnect || code === ErrorCode.ConnectionClosed) {
        throw new BusUnreachable(subject, code === ErrorCode.NoResponders ? 'nobody answers' : 'no answer in time');
      }
      throw error;
    }
  }

  /** An answer to a request; none once the connection is closed (the asker retries elsewhere). */
  private respond(message: { respond(data: Uint8Array): boolean }, reply: string, value: unknown): void {
    if (this.nc.isClosed()) return;
    try {
      message.respond(this.seal(reply, value));
    } catch (error) {
      this.logger.warn({ err: error }, 'bus answer failed');
    }
  }

  onReconnect(listener: () => void): void {
    this.reconnected.push(listener);
  }

  onDisconnect(listener: () => void): void {
    this.disconnected.push(listener);
  }

  /** Lets what is published go out, then closes. */
  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === Events.Disconnect) {
        this.logger.warn('lost the connection to NATS: reconnecting');
        for (const listener of this.disconnected) listener();
      } else if (status.type === Events.Reconnect) {
        this.logger.info('connected to NATS again');
        for (const listener of this.reconnected) listener();
      }
    }
  }

  /** The MAC of subject and body, then the body. */
  private seal(subject: string, value: unknown): Uint8Array {
    const body = Buffer.from(JSON.stringify(value ?? null), 'utf8');
    return Buffer.concat([this.mac(subject, body), body]);
  }

  /** The value, or undefined (logged) when the MAC does not match or the body is not JSON. */
  private open(subject: string, data: Uint8Array): unknown {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const body = bytes.subarray(MAC_BYTES);
    if (bytes.length < MAC_BYTES || !timingSafeEqual(bytes.subarray(0, MAC_BYTES), this.mac(subject, body))) {
      this.stats.rejected++;
      this.logger.warn({ subject }, 'bus message failed authentication: dropped');
      return undefined;
    }
    try {
      return JSON.parse(body.toString('utf8'));
    } catch {
      this.stats.rejected++;
      this.logger.warn({ subject }, 'bus message is not JSON: dropped');
      return undefined;
    }
  }

  private mac(subject: string, body: Buffer): Buffer {
    return createHmac('sha256', this.secret).update(subject).update('\u0000').update(body).digest();
  }
}

/** A request nobody answered: the server asked is gone, or the bus is down. Worth asking again. */
export class BusUnreachable extends Error {
  override readonly name = 'BusUnreachable';

  constructor(
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`${reason} on ${subject}`);
  }
}

/** host:port of a NATS URL: the part safe to log. */
function whereOf(url: string): string {
  try {
    const parsed = new URL(url);
    return parsed.host || url;
  } catch {
    return 'the given URL';
  }
}
