import type { FastifyRequest } from 'fastify';
import type { Accounts, User } from '../accounts.js';
import type { ChatCaller } from '../chats.js';

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

/** The logged-in user and the address the request came from: who asks about a chat by code. */
export async function currentCaller(accounts: Accounts, request: FastifyRequest): Promise<ChatCaller> {
  return { user: await currentUser(accounts, request), address: request.ip };
}
