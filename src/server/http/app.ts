import swagger from '@fastify/swagger';
import { Ajv } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify from 'fastify';
import type { Server as HttpServer } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { DEFAULTS, DEFAULT_TIMEOUTS, type PeerTimeouts } from '../config.js';
import { isLoopbackHost } from '../../protocol/loopback.js';
import { HttpConnectionCap } from './connection-cap.js';
import { guardSlowResponses } from './response-deadline.js';
import { SERVER_TLS_OPTIONS } from '../tls/cipher-policy.js';
import { guardHandshakes } from '../tls/handshake-guard.js';
import type { App, HttpServices } from './services.js';
import { chatRoutes } from './chats.js';
import { serverInfoRoutes } from './server-info.js';
import { messageRoutes } from './messages.js';
import { frameworkErrorHandler, problemClientErrorHandler, problemErrorHandler, sendProblem } from './problems.js';
import { SHARED_SCHEMAS } from './schemas.js';
import { sessionRoutes } from './sessions.js';
import { userRoutes } from './users.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsPlugin as any).default ?? addFormatsPlugin) as (ajv: Ajv) => Ajv;

// Query strings and paths are text, so their numbers need coercing; JSON bodies carry real
// types, so a number where a string belongs is an error there, not something to convert.
const coercing = addFormats(new Ajv({ coerceTypes: true, removeAdditional: true, useDefaults: true }));
const strict = addFormats(new Ajv({ coerceTypes: false, removeAdditional: true, useDefaults: true }));
function validatorFor(httpPart: string | undefined): Ajv {
  return httpPart === 'body' ? strict : coercing;
}

/**
 * Ajv coerces the text "Infinity" to a number and then skips minimum and maximum for it, as
 * for any non-finite number: an integer path or query parameter could be Infinity (a 500 on
 * PostgreSQL, found by running test/security/fuzz.test.ts there). Refused here, for every route.
 */
function compileValidator(schema: object, httpPart: string | undefined) {
  const validate = validatorFor(httpPart).compile(schema);
  if (httpPart === 'body') return validate;
  const finite = (data: unknown): boolean => {
    if (!validate(data)) {
      finite.errors = validate.errors;
      return false;
    }
    const key = Object.entries((data ?? {}) as Record<string, unknown>).find(([, v]) => typeof v === 'number' && !Number.isFinite(v))?.[0];
    finite.errors = key === undefined ? null : [{ instancePath: `/${key}`, schemaPath: '', keyword: 'type', params: {}, message: 'must be a finite integer' }];
    return key === undefined;
  };
  finite.errors = null as typeof validate.errors;
  return finite;
}

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Node checks the header and request deadlines only every `connectionsCheckingInterval` (30 s
 * unless told): check often enough that a deadline means what it says. Read when the server
 * starts listening, so setting it here, after Fastify made the server, takes effect.
 */
function guardSlowRequests(server: HttpServer, timeouts: PeerTimeouts): void {
  const deadline = Math.min(timeouts.httpHeadersMs, timeouts.httpRequestMs);
  server.headersTimeout = deadline;
  // A documented option of http.createServer that @types/node does not declare as a property.
  (server as HttpServer & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(50, Math.min(1000, Math.floor(deadline / 4)));
}

/**
 * On loopback, a request whose Host names anything but a loopback address or localhost is
 * refused before any route runs: that is a browser sent here by a rebound name, whose page could
 * otherwise spend this machine's shared limits (registrations, login failures, code guesses).
 * A request without Host (HTTP/1.0, scripts) is no browser's and goes on.
 */
function refuseOtherHosts(app: App): void {
  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host;
    if (host === undefined || isLoopbackHost(hostnameOf(host))) return;
    return sendProblem(reply, 'FORBIDDEN', 'This server answers only on this machine: address it as 127.0.0.1, [::1] or localhost');
  });
}

/**
 * Node hands over every request of a chunk it has read, even once their connection is closed
 * (as connection-cap.ts closes one that pipelines too many): none of them is answered, or worked
 * on. Without this, 64 KiB of pipelined requests cost the server 1,300 answers built for nobody.
 */
function ignoreRequestsOfClosedConnections(app: App): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.raw.socket.destroyed) reply.hijack();
  });
}

/** The name in a Host header, without its port: "[::1]:6789" → "[::1]", "127.0.0.1:6789" → "127.0.0.1". */
function hostnameOf(host: string): string {
  const bracketed = /^(\[[^\]]*\])(?::\d*)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d*$/, '');
}

/** The HTTP API: one Fastify app, one route file per resource. */
export async function buildHttpApp(services: HttpServices, logger: Logger, timeouts: PeerTimeouts = DEFAULT_TIMEOUTS): Promise<App> {
  const app = Fastify({
    ...(services.tls ? { https: { ...SERVER_TLS_OPTIONS, cert: services.tls.cert, key: services.tls.key } } : {}),
    loggerInstance: logger,
    bodyLimit: MAX_BODY_BYTES,
    // Slow clients must not hold a connection (and memory) open for ever: one that trickles
    // its request (slow loris) gets 408 and is closed, so does one that sends nothing at all.
    requestTimeout: timeouts.httpRequestMs,
    connectionTimeout: timeouts.httpIdleMs,
    keepAliveTimeout: timeouts.httpKeepAliveMs,
    // Errors raised before a route runs are problem documents too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: problemClientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();
  guardSlowRequests(app.server, timeouts);
  const connections = services.connections ?? new HttpConnectionCap({ perAddress: DEFAULTS.httpConnectionsPerAddress, pipelined: DEFAULTS.httpPipelinedRequests });
  // A TLS handshake is held to the headers deadline too (Node allows 120 s, and then leaves the
  // socket open): a peer that opens connections and never finishes its handshake must not hold them.
  if (services.tls) guardHandshakes(app.server as unknown as TlsServer, { perAddress: connections.limits.perAddress, timeoutMs: timeouts.httpHeadersMs });
  // The timeouts bound how long each connection lives, this how many one address holds at once.
  connections.guard(app.server);
  guardSlowResponses(app.server, timeouts.httpResponseMs ?? DEFAULT_TIMEOUTS.httpResponseMs!);
  app.setValidatorCompiler(({ schema, httpPart }) => compileValidator(schema, httpPart));

  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  await app.register(swagger, {
    openapi: {
      info: { title: 'Chorus API', version: '1', description: 'Accounts, chats and history of a Chorus server' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  ignoreRequestsOfClosedConnections(app);
  if (services.loopbackOnly) refuseOtherHosts(app);
  app.setErrorHandler(problemErrorHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 'NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`),
  );

  await app.register(
    async (api) => {
      userRoutes(api, services);
      sessionRoutes(api, services);
      chatRoutes(api, services);
      messageRoutes(api, services);
      serverInfoRoutes(api, services);
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: '/api' },
  );
  return app;
}
