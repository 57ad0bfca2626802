import type { FastifyRequest } from 'fastify';
import type { Accounts, User } from '../accounts.js';

/** The bearer token of a request, if it carries one. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return match?.[1];
}

/** The logged-in user of a request; throws UNAUTHENTICATED (401) otherwise. */
export function currentUser(accounts: Accounts, request: FastifyRequest): Promise<User> {
  return accounts.authenticate(bearerToken(request));
}
