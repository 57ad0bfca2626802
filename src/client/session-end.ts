import { ChorusError, messageAsClause } from '../protocol/errors.js';
import { type ApiClient, ApiError, isSessionEnded } from './api.js';
import type { Profile } from './profile.js';
import { profileApi } from './several-servers.js';

/**
 * Ending a session on the server, for a logout and for the login that replaces a session: the
 * CLI's and the web client's agent's alike.
 *
 * A token only forgotten here is not a session ended: the server honours it until it expires
 * (30 days by default), for whoever has a copy of the profile (a backup, a synced folder, a
 * shared machine). So a session is ended on the server first, and when that fails the caller
 * gets the reason, to tell the user plainly rather than report a logout that did not happen.
 */

/** What came of asking the server to end a session. */
export type SessionEnd =
  /** The server ended it now, or said it had ended already (expired, or revoked elsewhere). */
  | { ended: true }
  /** It may still be valid: `reason` says why it could not be ended (a clause: "cannot reach the server at …"). */
  | { ended: false; reason: string };

/** How long a logout waits for the server: an unreachable one is usually refused at once; a silent one should not hold the user long. */
export const SESSION_END_TIMEOUT_MS = 10_000;

/** Ends the session of `api`'s token on its server. Never throws for the server's sake: a failure is the reason returned. */
export async function endSession(api: ApiClient): Promise<SessionEnd> {
  try {
    await api.logout();
    return { ended: true };
  } catch (error) {
    // Only the server's own "no such session" counts as ended; a bare 401 from a proxy does not.
    if (isSessionEnded(error)) return { ended: true };
    if (!(error instanceof ChorusError)) throw error;
    return { ended: false, reason: notEndedReason(error, api.baseUrl) };
  }
}

/** Ends the profile's session on the profile's servers (home first, then the others while none answers). */
export async function endProfileSession(profile: Profile & { token: string }, options: { timeoutMs?: number } = {}): Promise<SessionEnd> {
  const api = profileApi(profile, { timeoutMs: options.timeoutMs ?? SESSION_END_TIMEOUT_MS });
  try {
    return await endSession(api);
  } finally {
    api.servers?.close();
  }
}

/** "cannot reach the server at …", or the server's refusal, as a clause. */
function notEndedReason(error: ChorusError, baseUrl: string): string {
  // The server's own words come without its name; a guessed one (a bare status) names it already.
  if (error instanceof ApiError && error.explicit) return `the server at ${baseUrl} refused: ${messageAsClause(error.message)}`;
  return messageAsClause(error.message);
}
