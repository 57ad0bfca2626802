import type { Logger } from 'pino';
import { ChorusError, isErrorCode } from '../../protocol/errors.js';
import type { MessageSink, Submission } from '../sequencer.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../store/database.js';
import { type Committed, LeaseLostError } from '../store/messages.js';
import { type Bus, BusUnreachable } from './bus.js';
import type { ChatLeases } from './leases.js';

/** A forwarded send's answer on the bus. */
type ForwardAnswer =
  | { committed: Committed }
  | { refused: { code: string; message: string; retryAfterSeconds?: number } }
  | { notOwner: true };

/** The server asked does not (or no longer) hold the chat's lease: ask where it is now. */
class NotOwner extends Error {
  override readonly name = 'NotOwner';
}

export interface RouterOptions {
  /** How long a send may look for its chat's owner (a failover) before it is refused UNAVAILABLE. */
  holdMs: number;
}

export const DEFAULT_ROUTER_OPTIONS: RouterOptions = { holdMs: 20_000 };

// Between attempts to find a chat's owner: doubling from the first, up to the last.
const RETRY_DELAYS_MS = { first: 50, max: 1_000 };

/**
 * Any server takes a send from its clients; the chat's owner commits it. A send for a chat this
 * server holds goes to its own sequencer; any other is forwarded to the owner over the bus
 * (request/reply) and acknowledged when the owner's answer, given after the commit, comes
 * back. When the owner is gone or was replaced (no answer, or "not the owner", or a commit
 * fenced off), the send looks for the owner again until `holdMs`: the client's message id keeps
 * a send that reached a commit before the failover from being stored twice.
 */
export class MessageRouter implements MessageSink {
  readonly stats = { forwarded: 0, served: 0, rerouted: 0 };

  constructor(
    private readonly deps: {
      leases: ChatLeases;
      local: MessageSink;
      bus: Bus;
      /** The subject a server takes forwarded sends on. */
      subjectOf(serverId: string): string;
      logger: Pick<Logger, 'warn'>;
    },
    private readonly options: RouterOptions = DEFAULT_ROUTER_OPTIONS,
  ) {}

  /** Takes the sends other servers forward to this one. */
  listen(): void {
    this.deps.bus.subscribe(this.deps.subjectOf(this.deps.leases.self.id), (value) => this.serve(value));
  }

  async submit(message: Submission): Promise<Committed> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const route = await this.deps.leases.route(message.chatCode);
        return route === 'self' ? await this.deps.local.submit(message) : await this.forward(route.owner, message);
      } catch (error) {
        if (!(error instanceof LeaseLostError || error instanceof BusUnreachable || error instanceof NotOwner)) throw error;
        this.stats.rerouted++;
        if (Date.now() - started >= this.options.holdMs) {
          throw new ChorusError('UNAVAILABLE', 'The chat is moving to another server; try again shortly', undefined, UNAVAILABLE_RETRY_AFTER_SECONDS);
        }
        await sleep(Math.min(RETRY_DELAYS_MS.first * 2 ** attempt, RETRY_DELAYS_MS.max));
      }
    }
  }

  private async forward(owner: string, message: Submission): Promise<Committed> {
    this.stats.forwarded++;
    const answer = (await this.deps.bus.request(this.deps.subjectOf(owner), { message })) as ForwardAnswer;
    if ('committed' in answer) return answer.committed;
    if ('notOwner' in answer) throw new NotOwner();
    const { code, message: text, retryAfterSeconds } = answer.refused;
    throw new ChorusError(isErrorCode(code) ? code : 'INTERNAL', text, undefined, retryAfterSeconds);
  }

  /** A send forwarded here: committed if this server holds (or may take) the chat's lease. */
  private async serve(value: unknown): Promise<ForwardAnswer> {
    const message = submissionOf(value);
    if (!message) return { refused: { code: 'INTERNAL', message: 'A forwarded send could not be read' } };
    this.stats.served++;
    try {
      const route = await this.deps.leases.route(message.chatCode, true);
      if (route !== 'self') return { notOwner: true };
      return { committed: await this.deps.local.submit(message) };
    } catch (error) {
      if (error instanceof LeaseLostError) return { notOwner: true };
      if (error instanceof ChorusError) {
        return { refused: { code: error.code, message: error.message, ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}) } };
      }
      this.deps.logger.warn({ err: error }, 'forwarded send failed');
      return { refused: { code: 'INTERNAL', message: 'The message could not be stored' } };
    }
  }
}

/** A forwarded send, checked field by field: only servers of the cluster publish on the bus, but a bug must not store garbage. */
function submissionOf(value: unknown): Submission | undefined {
  const m = (value as { message?: Record<string, unknown> } | null)?.message;
  if (!m) return undefined;
  const ok =
    typeof m.chatCode === 'string' &&
    typeof m.senderId === 'number' &&
    typeof m.senderName === 'string' &&
    typeof m.clientMsgId === 'string' &&
    typeof m.text === 'string' &&
    typeof m.sentAt === 'number';
  return ok ? (m as unknown as Submission) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
