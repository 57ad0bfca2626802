import type { FastifyRequest } from 'fastify';
import { ChorusError } from '../../protocol/errors.js';
import type { Accounts, User } from '../accounts.js';
import type { ChatCaller } from '../chat-service.js';

/** The bearer token of a request, if it carries one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

/** What a request whose session could not be looked up is told to wait, in seconds. */
const LOOKUP_RETRY_AFTER_S = 1;

/**
 * The logged-in user of a request; throws UNAUTHENTICATED (401) only when the session is
 * unknown, expired or revoked. A lookup that fails (the database slow or away) is 503
 * UNAVAILABLE with Retry-After: a client must not take it for a logout and forget its token.
 */
export async function currentUser(accounts: Accounts, request: FastifyRequest): Promise<User> {
  try {
    return await accounts.authenticate(bearerToken(request));
  } catch (error) {
    if (error instanceof ChorusError) throw error;
    request.log.warn({ err: error }, 'session lookup failed');
    throw new ChorusError('UNAVAILABLE', 'Your session could not be checked just now; try again shortly', undefined, LOOKUP_RETRY_AFTER_S);
  }
}

/** The logged-in user and the address the request came from: who asks about a chat by code. */
export async function currentCaller(accounts: Accounts, request: FastifyRequest): Promise<ChatCaller> {
  return { user: await currentUser(accounts, request), address: request.ip };
}
