import { type Agent, request } from 'node:http';
import { connect } from 'node:net';
import { ERRORS, isWireCode } from '../../../src/protocol/errors.js';
import { type FuzzRequest, PUBLIC_ROUTES } from './http-requests.js';

/** Sending fuzzed requests and judging the answers. */

export interface Answer {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

const HANG_GUARD_MS = 20_000;

/** One request over a keep-alive agent; rejects on a network error or after the hang guard. */
export function send(port: number, agent: Agent, r: FuzzRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Node's client sends a GET's or DELETE's body without a length unless told one, and the
    // server would then read that body as the next request.
    const headers = r.body ? { ...r.headers, 'content-length': String(r.body.length) } : r.headers;
    const req = request({ host: '127.0.0.1', port, agent, method: r.method, path: r.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(HANG_GUARD_MS, () => req.destroy(new Error(`no answer within ${HANG_GUARD_MS} ms`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

/** What is wrong with a problem document answer, if anything. */
export function problemFault(status: number, contentType: string | undefined, body: Buffer | undefined): string | undefined {
  if (!contentType?.startsWith('application/problem+json')) return `error ${status} as ${contentType ?? 'no content type'}`;
  if (body === undefined) return undefined;
  let doc: any;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return `error ${status} with a body that is not JSON`;
  }
  const code: unknown = doc?.code;
  if (!isWireCode(code)) return `unknown code ${String(code)}`;
  if (doc.status !== status || ERRORS[code].status !== status) return `code ${code} (${ERRORS[code].status}) answered as ${status}, document says ${doc.status}`;
  if (doc.type !== `urn:chorus:error:${code}` || typeof doc.title !== 'string' || typeof doc.detail !== 'string') return 'incomplete problem document';
  return undefined;
}

/** What is wrong with this answer to this request, if anything. */
export function answerFault(r: FuzzRequest, a: Answer): string | undefined {
  if (a.status >= 500) return `server error ${a.status}: ${a.body.toString('utf8').slice(0, 200)}`;
  if (a.status >= 400) return problemFault(a.status, a.contentType, r.method === 'HEAD' ? undefined : a.body);
  if (a.status < 200 || a.status >= 300) return `unexpected status ${a.status}`;
  // A success without a session must come from a public route.
  if (!r.withValidToken) {
    const path = r.path.split('?')[0]!.split('#')[0]!;
    const method = r.method === 'HEAD' ? 'GET' : r.method;
    if (!PUBLIC_ROUTES.has(`${method} ${path}`)) return `answered ${a.status} without a session`;
  }
  if (a.status !== 204 && r.method !== 'HEAD' && !a.contentType?.startsWith('application/json')) return `success as ${a.contentType}`;
  return undefined;
}

/**
 * Writes raw bytes on a fresh connection, half-closes it, and collects what comes back until
 * the server closes. Rejects after the hang guard: the server must not hold on to a client
 * that has said all it will say.
 */
export function sendRaw(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept a finished raw connection open for ${HANG_GUARD_MS} ms`));
    }, HANG_GUARD_MS);
    socket.on('data', (c) => chunks.push(c));
    // The server may close while we still write: that is an answer too.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    socket.end(bytes);
  });
}

/** What is wrong with the server's raw answer (several, if the client pipelined), if anything. */
export function rawAnswerFault(answer: Buffer): string | undefined {
  const text = answer.toString('latin1');
  for (const match of text.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n((?:[^\r]+\r\n)*)\r\n/g)) {
    const status = Number(match[1]);
    if (status >= 500) return `server error ${status}`;
    if (status >= 400) {
      const contentType = /^content-type: *([^\r]+)/im.exec(match[2]!)?.[1];
      // Node itself refuses an HTTP/1.1 request without a Host header, with an empty 400:
      // nothing there for a client to misread.
      const end = match.index + match[0].length;
      const empty =
        !contentType && (/^content-length: *0\r?$/im.test(match[2]!) || (/^transfer-encoding: *chunked\r?$/im.test(match[2]!) && text.startsWith('0\r\n\r\n', end)));
      const fault = empty ? undefined : problemFault(status, contentType, undefined);
      if (fault) return fault;
    }
  }
  if (text.length > 0 && !text.startsWith('HTTP/1.1 ')) return `not an HTTP answer: ${JSON.stringify(text.slice(0, 60))}`;
  return undefined;
}
