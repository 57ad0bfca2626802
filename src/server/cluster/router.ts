import type { Logger } from 'pino';
import { ChorusError, isErrorCode } from '../../protocol/errors.js';
import type { MessageSink, Submission } from '../sequencer.js';
import { UNAVAILABLE_RETRY_AFTER_SECONDS } from '../store/database.js';
import { type Committed, LeaseLostError } from '../store/messages.js';
import { type Bus, BusUnreachable, busSizedParts } from './bus.js';
import type { ChatLeases } from './leases.js';

/** One forwarded send's answer on the bus (a request carries several sends, its answer one each). */
type ForwardAnswer =
  | { committed: Committed }
  | { refused: { code: string; message: string; retryAfterSeconds?: number } }
  | { notOwner: true };

export interface RouterOptions {
  /** How long a send may look for its chat's owner (a failover) before it is refused UNAVAILABLE. */
  holdMs: number;
}

export const DEFAULT_ROUTER_OPTIONS: RouterOptions = { holdMs: 20_000 };

// Between attempts to find a chat's owner: doubling from the first, up to the last.
const RETRY_DELAYS_MS = { first: 50, max: 1_000 };


/** A send waiting for its chat's owner. */
interface Pending {
  message: Submission;
  resolve(committed: Committed): void;
  reject(error: unknown): void;
}

/** What became of one send at one attempt. */
type Outcome = { committed: Committed } | { retry: true } | { error: unknown };

/** A chat's sends, in the order they came: one attempt at a time, so that none overtakes another. */
interface ChatLine {
  waiting: Pending[];
  busy: boolean;
  /** Attempts in a row that had to look for the owner again (the back-off grows with them). */
  failures: number;
  /** When the oldest send waiting for an owner first failed to find one. */
  lookingSince?: number;
}

/**
 * Any server takes a send from its clients; the chat's owner commits it. A send for a chat this
 * server holds goes to its own sequencer; any other is forwarded to the owner over the bus
 * (request/reply: the sends that came together, in one request) and acknowledged when the
 * owner's answer, given after the commit, comes back. When the owner is gone or was replaced
 * (no answer, or "not the owner", or a commit fenced off), the sends look for the owner again
 * until `holdMs`: the client's message id keeps a send that reached a commit before the
 * failover from being stored twice.
 *
 * Each chat's sends go one attempt at a time, and those that must try again go back ahead of
 * those that came meanwhile, so that a sender's messages are stored in the order it sent them
 * across a failover too.
 */
export class MessageRouter implements MessageSink {
  readonly stats = { forwarded: 0, forwardRequests: 0, served: 0, rerouted: 0 };
  private readonly lines = new Map<string, ChatLine>();

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

  submit(message: Submission): Promise<Committed> {
    return new Promise((resolve, reject) => {
      let line = this.lines.get(message.chatCode);
      if (!line) {
        line = { waiting: [], busy: false, failures: 0 };
        this.lines.set(message.chatCode, line);
      }
      line.waiting.push({ message, resolve, reject });
      if (line.busy) return;
      // From the next microtask: sends that come in the same turn (a client's pipelined frames) go in one attempt.
      line.busy = true;
      const started = line;
      queueMicrotask(() => void this.pump(message.chatCode, started));
    });
  }

  private async pump(chatCode: string, line: ChatLine): Promise<void> {
    while (line.waiting.length > 0) {
      const batch = line.waiting.splice(0);
      const again = await this.attempt(chatCode, batch);
      if (again.length === 0) {
        line.failures = 0;
        line.lookingSince = undefined;
        continue;
      }
      this.stats.rerouted += again.length;
      line.waiting.unshift(...again);
      line.lookingSince ??= Date.now();
      if (Date.now() - line.lookingSince >= this.options.holdMs) {
        // Refused together, as the sequencer does when the database stays away: a later send
        // committed before an earlier one is sent again would break the sender's order.
        const error = new ChorusError('UNAVAILABLE', 'The chat is moving to another server; try again shortly', undefined, UNAVAILABLE_RETRY_AFTER_SECONDS);
        for (const p of line.waiting.splice(0)) p.reject(error);
        line.lookingSince = undefined;
        line.failures = 0;
        break;
      }
      await sleep(Math.min(RETRY_DELAYS_MS.first * 2 ** line.failures++, RETRY_DELAYS_MS.max));
    }
    line.busy = false;
    if (line.waiting.length === 0) this.lines.delete(chatCode);
  }

  /** One attempt at the chat's owner; the sends that must look for the owner again, in order. */
  private async attempt(chatCode: string, batch: Pending[]): Promise<Pending[]> {
    let outcomes: Outcome[];
    try {
      const route = await this.deps.leases.route(chatCode);
      outcomes = route === 'self' ? await this.commitHere(batch) : await this.forward(route.owner, batch);
    } catch (error) {
      outcomes = batch.map(() => (isRetryable(error) ? { retry: true } : { error }));
    }
    const again: Pending[] = [];
    batch.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if ('retry' in outcome) again.push(p);
      else if ('committed' in outcome) p.resolve(outcome.committed);
      else p.reject(outcome.error);
    });
    return again;
  }

  private async commitHere(batch: Pending[]): Promise<Outcome[]> {
    const results = await Promise.allSettled(batch.map((p) => this.deps.local.submit(p.message)));
    return results.map((r) => (r.status === 'fulfilled' ? { committed: r.value } : isRetryable(r.reason) ? { retry: true } : { error: r.reason }));
  }

  /** The batch to `owner`, in as few requests as the bus takes, all sent before any answer. */
  private async forward(owner: string, batch: Pending[]): Promise<Outcome[]> {
    const parts = busSizedParts(batch, (p) => p.message.text);
    const answered = await Promise.all(parts.map((part) => this.request(owner, part)));
    return answered.flat();
  }

  private async request(owner: string, part: Pending[]): Promise<Outcome[]> {
    this.stats.forwarded += part.length;
    this.stats.forwardRequests++;
    try {
      const reply = (await this.deps.bus.request(this.deps.subjectOf(owner), { messages: part.map((p) => p.message) })) as { answers?: ForwardAnswer[] };
      if (!Array.isArray(reply.answers) || reply.answers.length !== part.length) return part.map(() => ({ retry: true }));
      return reply.answers.map(outcomeOf);
    } catch (error) {
      return part.map(() => (isRetryable(error) ? { retry: true } : { error }));
    }
  }

  /** Sends forwarded here, in the order they were sent: each committed if this server holds (or may take) its chat's lease. */
  private async serve(value: unknown): Promise<{ answers: ForwardAnswer[] }> {
    const list = (value as { messages?: unknown } | null)?.messages;
    const messages = Array.isArray(list) ? list : [];
    // All started before any is awaited: the sequencer takes them in this order.
    return { answers: await Promise.all(messages.map((m) => this.serveOne(submissionOf(m)))) };
  }

  private async serveOne(message: Submission | undefined): Promise<ForwardAnswer> {
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

/** The owner is gone, moved, or took over meanwhile: worth looking for it again. */
function isRetryable(error: unknown): boolean {
  return error instanceof LeaseLostError || error instanceof BusUnreachable;
}

function outcomeOf(answer: ForwardAnswer): Outcome {
  if ('committed' in answer) return { committed: answer.committed };
  if ('notOwner' in answer) return { retry: true };
  const { code, message, retryAfterSeconds } = answer.refused;
  return { error: new ChorusError(isErrorCode(code) ? code : 'INTERNAL', message, undefined, retryAfterSeconds) };
}

/** A forwarded send, checked field by field: only servers of the cluster publish on the bus, but a bug must not store garbage. */
function submissionOf(value: unknown): Submission | undefined {
  const m = value as Record<string, unknown> | null;
  if (!m || typeof m !== 'object') return undefined;
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
