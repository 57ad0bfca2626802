import { createServer } from 'node:http';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiError, isSessionEnded } from '../../client/api.js';
import { ChorusError } from '../../protocol/errors.js';
import type { Accounts } from '../accounts.js';
import type { Chats } from '../chat-service.js';
import type { ServerIdentity } from '../server-identity.js';
import type { UserSettings } from '../settings.js';
import { buildHttpApp } from './app.js';
import type { App } from './services.js';

/**
 * Authentication over HTTP when the session lookup fails (the database slow or away): 503
 * UNAVAILABLE with Retry-After, never 401; and the client library takes only an explicit
 * "unknown or expired" for the end of a session.
 */

let app: App;
let baseUrl: string;

beforeAll(async () => {
  const accounts = {
    authenticate: async (token: string | undefined) => {
      if (token === 'broken') throw new Error('Connection terminated unexpectedly');
      throw new ChorusError('UNAUTHENTICATED', 'Session expired or logged out; log in again');
    },
  } as unknown as Accounts;
  app = await buildHttpApp(
    { accounts, chats: {} as Chats, settings: {} as UserSettings, identity: {} as ServerIdentity, tcpPort: 1, metrics: new Registry() },
    pino({ level: 'silent' }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await app.close();
});

describe('a session lookup that fails', () => {
  it('is 503 UNAVAILABLE with Retry-After, not 401', async () => {
    const response = await fetch(`${baseUrl}/api/me`, { headers: { authorization: 'Bearer broken' } });
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(await response.json()).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('is not the end of the session for the client library; an explicit UNAUTHENTICATED is', async () => {
    const broken = await new ApiClient({ baseUrl, token: 'broken' }).me().catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(ApiError);
    expect(broken).toMatchObject({ code: 'UNAVAILABLE', retryAfterSeconds: 1 });
    expect(isSessionEnded(broken)).toBe(false);

    const ended = await new ApiClient({ baseUrl, token: 'gone' }).me().catch((e: unknown) => e);
    expect(ended).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(isSessionEnded(ended)).toBe(true);
  });

  it('a bare 401 from something that is not the server’s problem document is not the end of the session', async () => {
    const proxy = createServer((_request, response) => response.writeHead(401).end('Unauthorized'));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const error = await new ApiClient({ baseUrl: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`, token: 't' }).me().catch((e: unknown) => e);
    await new Promise((resolve) => proxy.close(resolve));
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
    expect(isSessionEnded(error)).toBe(false);
  });
});
