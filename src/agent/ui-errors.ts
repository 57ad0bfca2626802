import { ApiError, isSessionEnded as sessionEndedAnswer } from '../client/api.js';
import { ChorusError, ERRORS } from '../protocol/errors.js';
import type { UiError } from './ui-protocol.js';

/**
 * Any failure, as the UI sees it: a catalogue code (src/protocol/errors.ts) and a sentence fit to
 * show. A server's message is shown as it came; a client's own, written as a clause to follow
 * "chorus: " on the CLI ("cannot reach the server at …"), is made a sentence. Anything that is
 * not a ChorusError is a bug in the client, and says so.
 */
export function toUiError(error: unknown): UiError {
  if (!(error instanceof ChorusError)) {
    return { code: 'INTERNAL', message: `Something went wrong in the Chorus client: ${error instanceof Error ? error.message : String(error)}` };
  }
  const message = ERRORS[error.code].wire ? error.message : asSentence(error.message);
  return { code: error.code, message, ...(error.field ? { field: error.field } : {}) };
}

/** "cannot reach X (why)" → "Cannot reach X (why)."; a sentence already is one. */
export function asSentence(text: string): string {
  if (!/^[a-z]/.test(text)) return text;
  return `${text[0]!.toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}

/**
 * The server said, over its HTTP API, that it does not know the session (expired, revoked): the
 * one answer on which a login ends and its token is forgotten. A timeout, a 5xx, a network error
 * or a refusal on the TCP connection never is: those are confirmed with the HTTP API first.
 */
export function isSessionEnded(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401 && sessionEndedAnswer(error);
}

/**
 * A refusal that may mean the session ended (a TCP `hello` refused, SESSION_ENDED on an open
 * connection), or may be the server's hiccup: confirmed with the HTTP API before anything is forgotten.
 */
export function mayMeanSessionEnded(error: unknown): boolean {
  return isSessionEnded(error) || (error instanceof ChorusError && sessionEndedAnswer(error));
}
