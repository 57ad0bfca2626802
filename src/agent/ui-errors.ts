import { ApiError, ServerUnreachableError, isSessionEnded as sessionEndedAnswer } from '../client/api.js';
import { CertificateChangedError } from '../client/certificate-pin.js';
import { ChorusError } from '../protocol/errors.js';
import type { UiError } from './ui-protocol.js';

/**
 * Refusals the agent makes itself, with codes beside the server's (src/protocol/errors.ts):
 * the UI shows `message` as it is, and may key on `code`.
 */
export type AgentErrorCode =
  | 'NOT_LOGGED_IN'
  | 'ALREADY_LOGGED_IN'
  | 'SERVER_KEY_CHANGED'
  | 'BAD_UI_REQUEST'
  | 'UNKNOWN_CHAT'
  | 'UNREACHABLE';

export class AgentError extends Error {
  override readonly name = 'AgentError';

  constructor(
    readonly code: AgentErrorCode | string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Any failure, as the UI sees it: a code and a sentence fit to show. */
export function toUiError(error: unknown): UiError {
  if (error instanceof ApiError || error instanceof ChorusError || error instanceof AgentError) {
    return { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) };
  }
  if (error instanceof CertificateChangedError) return { code: error.code, message: `${error.message[0]!.toUpperCase()}${error.message.slice(1)}.` };
  if (error instanceof ServerUnreachableError) return { code: 'UNREACHABLE', message: `Cannot reach the Chorus server at ${error.baseUrl}${error.reason ? ` (${error.reason})` : ''}.` };
  return { code: 'INTERNAL', message: `Something went wrong in the Chorus client: ${error instanceof Error ? error.message : String(error)}` };
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
