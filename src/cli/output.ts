import { ChorusError, messageAsClause } from '../protocol/errors.js';
import type { SenderLabels } from '../protocol/name-skeleton.js';
import { chorusCommand, chorusCommandForOthers, loginCommand } from './invocation.js';

/**
 * What the CLI shows: results on stdout (human lines, or JSON with --json), and every failure as
 * ONE line on stderr with an exit code: 1 when something was refused or failed, 2 when the
 * command itself was wrong (usage). Secrets (tokens, passwords, chat keys) are never printed.
 */

export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

/** What every command says when the server ends or refuses the session. */
export function sessionEndedLine(): string {
  return `your session ended: log in again (${loginCommand()})`;
}

/** A failure the CLI explains itself; the message is the whole line shown. */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: number = EXIT_REFUSED,
  ) {
    super(message);
  }
}

export function usageError(message: string): CliError {
  return new CliError(message, EXIT_USAGE);
}

/** Prints `data` as JSON when asked, else the human lines. */
export function printResult(json: boolean | undefined, data: unknown, human: () => string | string[]): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  const lines = human();
  const text = Array.isArray(lines) ? lines.join('\n') : lines;
  if (text !== '') process.stdout.write(`${text}\n`);
}

/** A note beside the result (warnings, progress): stderr, so stdout stays clean for scripts. */
export function printNote(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The one line and exit code for any error that reaches the top of the program. */
export function describeFailure(error: unknown): { line: string; exitCode: number } {
  if (error instanceof CliError) return { line: error.message, exitCode: error.exitCode };
  // A refusal over HTTP or TCP, or the client's own (unreachable, certificate changed): one type, one set of codes.
  if (error instanceof ChorusError) return { line: describeRefusal(error), exitCode: EXIT_REFUSED };
  const message = error instanceof Error ? error.message : String(error);
  return { line: `unexpected error: ${message}`, exitCode: EXIT_REFUSED };
}

function describeRefusal(error: ChorusError): string {
  switch (error.code) {
    case 'WRONG_CREDENTIALS':
      return 'wrong email or password';
    // The server said the session is over (unknown, expired, logged out), over HTTP or TCP.
    case 'UNAUTHENTICATED':
    case 'SESSION_ENDED':
      return sessionEndedLine();
    case 'TOO_MANY_REQUESTS':
      return error.retryAfterSeconds !== undefined
        ? `too many failed attempts: try again in ${waitTime(error.retryAfterSeconds)}`
        : 'too many failed attempts: try again later';
    // Refused: nothing listens there. A newcomer's first command meets this most: say what to do.
    case 'UNREACHABLE':
      return error.message.endsWith('(connection refused)')
        ? `${messageAsClause(error.message)}: is a Chorus server running there? Start one with ${chorusCommandForOthers('server')} (or ${chorusCommand('up')}), or give --server URL`
        : messageAsClause(error.message);
    case 'EMAIL_TAKEN':
      return `an account with this email address already exists: run ${loginCommand()}`;
    default:
      return messageAsClause(error.message);
  }
}

/**
 * Turns failures into the one-line report; returns the exit code. A CliError may say several
 * things, one per line (send --stdin names each refused line): each gets its own line.
 */
export function reportFailure(error: unknown): number {
  const { line, exitCode } = describeFailure(error);
  for (const part of line.split('\n')) process.stderr.write(`chorus: ${terminalSafe(part)}\n`);
  return exitCode;
}

/**
 * Text from the network (names, messages) may hold control characters; written raw they could
 * move the cursor or rewrite the terminal. Tabs and newlines stay, everything else shows as �.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\uFFFD');
}

/** `[2026-11-24 10:31] Alice: text`, continuation lines indented; text from the network made terminal-safe. */
export function messageLine(message: { sentAt: string; sender: { id: number; name: string }; text: string }, labels?: SenderLabels): string {
  const text = terminalSafe(message.text).replace(/\n/g, '\n    ');
  // Look-alike names of different senders carry their account number (protocol/name-skeleton.ts).
  const name = labels ? labels.label(message.sender) : message.sender.name;
  return `[${localMinute(message.sentAt)}] ${terminalSafe(name)}: ${text}`;
}

/** `2026-11-24 10:31` in the local time zone. */
export function localMinute(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** `1 message`, `3 messages`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function waitTime(seconds: number): string {
  return seconds < 90 ? `${seconds} s` : `${Math.ceil(seconds / 60)} minutes`;
}

/**
 * Lines for a stream, written together once this turn of the event loop is over: a burst of
 * messages (a receiver delivers a whole datagram, or a repaired page, at once) costs one write
 * instead of one per line. `flush` writes what waits now (before the process ends).
 */
export class LineBatcher {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly stream: NodeJS.WritableStream) {}

  write(line: string): void {
    this.pending.push(line);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.stream.write(text);
  }
}
