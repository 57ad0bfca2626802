import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StartOptions, startServer } from '../../src/server/compose.js';
import { defaultServerConfig, type RunningServer, type ServerConfig } from '../../src/server/config.js';
import type { DatabaseTarget } from '../../src/server/store/database.js';
import { NATS_URL, databaseFor, forgetDatabaseOf, testCluster } from './engine.js';

export interface TestServer extends RunningServer {
  dataDir: string;
  /** Its database: the SQLite file in dataDir, or its own PostgreSQL database (CHORUS_TEST_ENGINE). */
  database: DatabaseTarget;
  /** Stops the server and deletes its data folder (and its PostgreSQL database). */
  dispose(): Promise<void>;
}

/**
 * Every test client comes from 127.0.0.1, and many tests ask about made-up chat codes on purpose
 * (404s in the authorization matrix, fuzzing): the code-guessing limit per address would soon
 * refuse them all. Test servers get a wide one unless a test sets its own, as
 * test/join-throttle.test.ts does to test the limit itself.
 */
const WIDE_CODE_GUESS_THROTTLE = { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000, windowSeconds: 600 };
/** Likewise, test files register far more accounts from 127.0.0.1 than one address may in an hour. */
const WIDE_REGISTRATION_THROTTLE = { maxPerAddress: 100_000, windowSeconds: 3600 };

/**
 * A real server on loopback with free ports and a fresh temporary data folder. Its database is
 * the engine under test (test/support/engine.ts): a SQLite file in the folder, or a PostgreSQL
 * database of its own. Started again on the same folder, it finds the same database.
 */
export async function startTestServer(overrides: Partial<ServerConfig> = {}, dataDir?: string, options: StartOptions = {}): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'chorus-test-'));
  const database = await databaseFor(dir);
  const server = await startServer(
    defaultServerConfig({
      dataDir: dir,
      database: database.engine === 'postgres' ? { engine: 'postgres', url: database.url } : { engine: 'sqlite' },
      host: '127.0.0.1',
      httpPort: 0,
      tcpPort: 0,
      logLevel: 'silent',
      codeGuessThrottle: WIDE_CODE_GUESS_THROTTLE,
      registrationThrottle: WIDE_REGISTRATION_THROTTLE,
      ...(testCluster() ? { cluster: { natsUrl: NATS_URL, site: 'test', leaseTtlMs: 2_000 } } : {}),
      ...overrides,
    }),
    options,
  );
  return {
    ...server,
    close: () => server.close(),
    dataDir: dir,
    database,
    async dispose() {
      await server.close();
      await forgetDatabaseOf(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpResult<T = any> {
  status: number;
  contentType: string | null;
  headers: Headers;
  body: T;
}

/**
 * A tiny raw HTTP helper: tests see exactly what went over the wire. For an https:// server
 * with a certificate of its own, pass pinnedFetch(its fingerprint) as `fetchImpl`.
 */
export function http(baseUrl: string, fetchImpl: typeof fetch = fetch) {
  return async function call<T = any>(
    method: string,
    path: string,
    options: { json?: unknown; raw?: string; token?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = options.raw;
    }
    const response = await fetchImpl(baseUrl + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, contentType: response.headers.get('content-type'), headers: response.headers, body: parsed as T };
  };
}

/** Registers and logs in a user; returns the token and user. */
export async function signUp(baseUrl: string, name: string, email = `${name.toLowerCase()}@example.test`, password = 'correct horse battery') {
  const call = http(baseUrl);
  const registered = await call('POST', '/api/users', { json: { name, email, password } });
  if (registered.status !== 201) throw new Error(`register ${name}: ${registered.status} ${JSON.stringify(registered.body)}`);
  const session = await call('POST', '/api/sessions', { json: { email, password } });
  if (session.status !== 201) throw new Error(`login ${name}: ${session.status}`);
  return { token: session.body.token as string, user: session.body.user as { id: number; name: string; email: string }, email, password };
}
