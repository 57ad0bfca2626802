import fc from 'fast-check';
import { applyEdit, editArb, randomBytesArb } from './edits.js';

/**
 * Random and mutated HTTP requests for the API: the real routes with garbage parameters,
 * queries, headers and bodies, and paths and methods that match nothing. Only what a
 * well-behaved HTTP client can put on the wire: headers that change HTTP framing
 * (content-length, transfer-encoding, host, connection, expect, upgrade) are left to the raw
 * socket inputs, see `rawHttpArb`.
 */

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The route it was made from, if any, and whether it carries the fuzzer's real token. */
  route?: string;
  withValidToken: boolean;
}

/** What the fuzzer knows: its own session, some real chat codes and user ids. */
export interface FuzzWorld {
  token: string;
  email: string;
  password: string;
  chatCodes: string[];
  userIds: number[];
}

export const ROUTES = [
  ['POST', '/api/users'],
  ['POST', '/api/sessions'],
  ['DELETE', '/api/sessions/current'],
  ['GET', '/api/me'],
  ['POST', '/api/chats'],
  ['GET', '/api/chats'],
  ['GET', '/api/chats/{code}'],
  ['POST', '/api/chats/{code}/members'],
  ['DELETE', '/api/chats/{code}/members/me'],
  ['DELETE', '/api/chats/{code}/members/{userId}'],
  ['GET', '/api/chats/{code}/members'],
  ['GET', '/api/chats/{code}/messages'],
  ['GET', '/api/server'],
  ['GET', '/api/server-key'],
  ['GET', '/api/health'],
  ['GET', '/api/openapi.json'],
] as const;

/** Routes anyone may call; every other one needs a session. */
export const PUBLIC_ROUTES = new Set(['POST /api/users', 'POST /api/sessions', 'GET /api/server', 'GET /api/server-key', 'GET /api/health', 'GET /api/openapi.json']);

// Methods Node's HTTP parser knows; unknown ones are a parse error, sent over raw sockets.
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'QUERY', 'PURGE', 'LOCK', 'REPORT'];

/** Node's client refuses characters outside \x21-\xff in a path: escape those, keep the rest raw. */
function pathSafe(s: string): string {
  return s.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** Header values Node accepts: no control characters but tab, nothing beyond latin1. */
function headerSafe(s: string): string {
  return s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

const garbageSegment = fc.oneof(
  fc.constantFrom('', '.', '..', '%', '%zz', '%00', '%2F', '%2e%2e', '%C0%AE', '%FF', '~', '*', ';', 'null', 'undefined', '__proto__', 'constructor', '%FF%FE'),
  fc.string({ maxLength: 40, unit: 'grapheme' }).map(pathSafe),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.integer({ min: 60, max: 400 }).map((n) => 'Z'.repeat(n)),
);

function codeArb(world: FuzzWorld): fc.Arbitrary<string> {
  const real = fc.constantFrom(...world.chatCodes);
  return fc.oneof(
    { weight: 4, arbitrary: real },
    { weight: 1, arbitrary: real.map((c) => c.replace('-', '').toLowerCase()) },
    { weight: 1, arbitrary: real.map((c) => encodeURIComponent(` ${c.replace('-', ' ')} `)) },
    { weight: 1, arbitrary: real.map((c) => c.replace(/1/g, 'l').replace(/0/g, 'o')) },
    { weight: 1, arbitrary: fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$/) },
    { weight: 3, arbitrary: garbageSegment },
  );
}

function userIdArb(world: FuzzWorld): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...world.userIds.map(String), 'me', 'ME', '0', '-1', '1.5', '1e3', '0x10', '2147483648', '99999999999999999999', 'NaN', 'Infinity', ' 1'),
    fc.integer().map(String),
    garbageSegment,
  );
}

const queryValue = fc.oneof(
  fc.constantFrom('', '0', '1', '-1', '1.5', '500', '501', '9007199254740993', '1e2', 'abc', '%', '%zz', '[]', 'true', 'null'),
  fc.nat().map(String),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);
const queryArb = fc.array(fc.tuple(fc.constantFrom('after', 'before', 'limit', 'after', 'limit', 'x', '__proto__', '', 'after[]'), queryValue), { maxLength: 4 }).map((pairs) =>
  pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`,
);

function pathArb(world: FuzzWorld, template: string): fc.Arbitrary<string> {
  const filled = fc.tuple(codeArb(world), userIdArb(world), queryArb).map(([code, userId, query]) =>
    template.replace('{code}', code).replace('{userId}', userId) + query,
  );
  const mangled = fc.tuple(filled, fc.constantFrom('//', '/', '/x', '?', '#', '/../', '%2F', ';', '?after=1&after=2')).map(([p, s]) => p + s);
  const upper = filled.map((p) => p.toUpperCase());
  return fc.oneof({ weight: 6, arbitrary: filled }, { weight: 1, arbitrary: mangled }, { weight: 1, arbitrary: upper });
}

const anyPathArb = fc.oneof(
  fc.array(garbageSegment, { maxLength: 6 }).map((segments) => `/${segments.join('/')}`),
  fc.array(garbageSegment, { maxLength: 4 }).map((segments) => `/api/${segments.join('/')}`),
  fc.constantFrom('/', '*', '/api', '/api/', '/API/ME', '/api/chats/', '/api/users/1', '/api/sessions', '/api/openapi.json/x', '/api/../api/me'),
);

function authorizationArb(world: FuzzWorld): fc.Arbitrary<string | undefined> {
  const t = world.token;
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: fc.constantFrom(`Bearer ${t}`, `bearer ${t}`, `Bearer   ${t}`) },
    {
      weight: 4,
      arbitrary: fc.oneof(
        fc.constantFrom(`Bearer ${t}x`, `Bearer ${t.slice(1)}`, `Bearer ${t} ${t}`, `Basic ${t}`, 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', t, `Bearer ${'A'.repeat(4000)}`),
        fc.base64String({ minLength: 40, maxLength: 48 }).map((s) => `Bearer ${s}`),
        fc.string({ maxLength: 100 }).map((s) => headerSafe(`Bearer ${s}`)),
        fc.tuple(editArb).map(([edit]) => headerSafe(`Bearer ${applyEdit(Buffer.from(t), edit, []).toString('latin1')}`)),
      ),
    },
  );
}

const contentTypeArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
      'application/problem+json',
      'application/vnd.api+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/octet-stream',
      '',
      ';',
      'application/json;;;',
      'application/json; charset="',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map(headerSafe) },
);

const headerName = fc.oneof(
  fc.constantFrom('accept', 'accept-encoding', 'content-encoding', 'x-forwarded-for', 'x-real-ip', 'origin', 'cookie', 'referer', 'user-agent', 'accept-version', 'x-http-method-override', 'range', 'if-none-match'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).filter((n) => !/^(content-length|transfer-encoding|host|connection|expect|upgrade|te|trailer|keep-alive|proxy-connection|authorization|content-type)$/.test(n)),
);
const extraHeadersArb = fc.array(fc.tuple(headerName, fc.string({ maxLength: 200 }).map(headerSafe)), { maxLength: 4 });

/** Bodies for a route: valid ones (so that edits reach the logic), edited, random, hostile. */
function bodyArb(world: FuzzWorld, route: string | undefined): fc.Arbitrary<Buffer | undefined> {
  const valid: fc.Arbitrary<unknown>[] = [fc.constant({ name: 'Fuzzed chat' })];
  if (route === 'POST /api/users') {
    // The fuzzer's own email: refused as taken before any (slow) password hashing.
    valid.push(fc.constant({ name: 'Mallory', email: world.email, password: world.password }));
  } else if (route === 'POST /api/sessions') {
    valid.push(fc.constant({ email: world.email, password: world.password }), fc.constant({ email: world.email, password: 'wrong password' }));
  }
  const validJson = fc.oneof(...valid).map((v) => Buffer.from(JSON.stringify(v)));
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: validJson },
    {
      weight: 4,
      arbitrary: fc.tuple(validJson, fc.array(editArb, { minLength: 1, maxLength: 3 })).map(([b, edits]) => edits.reduce<Buffer>((x, e) => applyEdit(x, e, []), b)),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    { weight: 2, arbitrary: randomBytesArb(1024) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{"__proto__":{"admin":true},"name":"x"}',
        '{"constructor":{"prototype":{"admin":true}},"name":"x"}',
        '{"name":"x","name":"y"}',
        '{"name":null}',
        '{"name":["a"]}',
        '{"name":{"$gt":""}}',
        '{"name":"\\u0000"}',
        '{"name":"\\ud800"}',
        '{"email":"a@b.c","password":1e309}',
        '[]',
        '""',
        '\ufeff{"name":"x"}',
      ).map((s) => Buffer.from(s)),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 20_000 }).map((n) => Buffer.from('['.repeat(n) + ']'.repeat(n))) },
    // Larger than the 64 KiB body limit.
    { weight: 1, arbitrary: fc.integer({ min: 64 * 1024 - 10, max: 100_000 }).map((n) => Buffer.from(`{"name":"${'x'.repeat(n)}"}`)) },
  );
}

export function requestArb(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  // Built once per route: making arbitraries is far slower than drawing from them.
  const perRoute = ROUTES.map(([method, template]) => {
    const route = `${method} ${template}`;
    return fc.record({
      method: fc.oneof({ weight: 5, arbitrary: fc.constant(method) }, { weight: 1, arbitrary: fc.constantFrom(...METHODS) }),
      path: pathArb(world, template),
      authorization: authorizationArb(world),
      contentType: contentTypeArb,
      extra: extraHeadersArb,
      body: bodyArb(world, route),
      route: fc.constant(route as string | undefined),
    });
  });
  const fromRoute = fc.oneof(...perRoute);
  const elsewhere = fc.record({
    method: fc.constantFrom(...METHODS),
    path: anyPathArb,
    authorization: authorizationArb(world),
    contentType: contentTypeArb,
    extra: extraHeadersArb,
    body: bodyArb(world, undefined),
    route: fc.constant(undefined as string | undefined),
  });
  return fc.oneof({ weight: 5, arbitrary: fromRoute }, { weight: 1, arbitrary: elsewhere }).map((r) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of r.extra) headers[name] = value;
    if (r.authorization !== undefined) headers.authorization = r.authorization;
    if (r.contentType !== undefined && r.body !== undefined) headers['content-type'] = r.contentType;
    const withValidToken = r.authorization !== undefined && r.authorization.includes(world.token);
    // The fuzzer logging itself out would only make the rest of the run shallower.
    const method = r.method === 'DELETE' && r.path.startsWith('/api/sessions') && withValidToken ? 'GET' : r.method;
    return { method, path: pathSafe(r.path), headers, body: r.body, route: r.route, withValidToken };
  });
}

/** Requests Node's HTTP parser itself must refuse: bad request lines, headers, framing. */
export const rawHttpArb: fc.Arbitrary<Buffer> = fc.oneof(
  randomBytesArb(600),
  fc.constantFrom(
    'FOO /api/me HTTP/1.1\r\nHost: x\r\n\r\n',
    'GET /api/me HTTP/9.9\r\nHost: x\r\n\r\n',
    'GET /api/me\r\n\r\n',
    'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    'GET /api/me HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'POST /api/chats HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'POST /api/chats HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n\r\n',
    'POST /api/chats HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    'GET /api/me HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
    'GET /api/me HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n',
    'GET /api/me HTTP/1.1\nHost: x\n\n',
    `GET /api/me HTTP/1.1\r\nHost: x\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`,
    `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  ).map((s) => Buffer.from(s, 'latin1')),
  fc
    .tuple(fc.constantFrom('GET /api/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n', 'POST /api/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"email":"a@b"}'), fc.array(editArb, { minLength: 1, maxLength: 3 }))
    .map(([s, edits]) => edits.reduce<Buffer>((b, e) => applyEdit(b, e, []), Buffer.from(s, 'latin1'))),
);
