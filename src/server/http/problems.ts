import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Duplex } from 'node:stream';
import { ChorusError, ERRORS, type WireErrorCode, isWireCode } from '../../protocol/errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function sendProblem(reply: FastifyReply, code: WireErrorCode, detail: string, field?: string, retryAfter?: number) {
  const { status, title } = ERRORS[code];
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply
    .code(status)
    .type(PROBLEM_CONTENT_TYPE)
    .send({ type: `urn:chorus:error:${code}`, title, status, detail, code, ...(field ? { field } : {}) });
}

/** Names the offending field from an Ajv error, e.g. `/email` → email, missing `password`. */
function fieldOf(error: FastifyError): string | undefined {
  const first = error.validation?.[0];
  if (!first) return undefined;
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty;
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  return missing ? (path ? `${path}.${missing}` : missing) : path || undefined;
}

/** Turns every error into a problem document; only unexpected ones are 500s, and logged. */
export function problemErrorHandler(error: FastifyError | ChorusError, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof ChorusError) {
    if (isWireCode(error.code)) return sendProblem(reply, error.code, error.message, error.field, error.retryAfterSeconds);
    // A code local to a client never leaves the server: raising one here is a bug, answered as one.
    request.log.error({ err: error }, 'a client-only error code raised on the server');
    return sendProblem(reply, 'INTERNAL', 'Something went wrong on the server');
  }
  if (error.validation) {
    const field = fieldOf(error);
    const where = error.validationContext ?? 'request';
    return sendProblem(reply, 'INVALID_FIELD', `Invalid ${field ?? where}: ${error.validation[0]?.message ?? 'bad value'}`, field);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return sendProblem(reply, 'BAD_JSON', 'The request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendProblem(reply, 'PAYLOAD_TOO_LARGE', 'The request body is larger than 64 KiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendProblem(reply, 'UNSUPPORTED_MEDIA_TYPE', 'Send JSON (Content-Type: application/json)');
  }
  if (error instanceof SyntaxError || (error.statusCode !== undefined && error.statusCode < 500)) {
    return sendProblem(reply, error instanceof SyntaxError ? 'BAD_JSON' : 'BAD_REQUEST', error.message);
  }
  request.log.error({ err: error }, 'unexpected error');
  return sendProblem(reply, 'INTERNAL', 'Something went wrong on the server');
}

/**
 * Errors Fastify's router raises before any route runs (a path that is not valid percent
 * encoding, a path parameter over 100 characters). Without this Fastify answers them as plain
 * JSON, not problem documents (found by test/security/fuzz.test.ts).
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return sendProblem(reply, 'BAD_REQUEST', 'The path is not valid percent-encoded text');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return sendProblem(reply, 'BAD_REQUEST', 'A path parameter is longer than 100 characters');
  }
  return problemErrorHandler(error, request, reply);
}

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (malformed request line or
 * headers, headers over 16 KiB, a request not complete in time): answered as problem documents
 * like every other error, then the connection is closed, as Fastify's default does. 408 and 431
 * keep their HTTP status; the catalogue's closest code is BAD_REQUEST (found by
 * test/security/fuzz.test.ts).
 */
export function problemClientErrorHandler(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'The request did not arrive in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'The request headers are larger than 16 KiB']
        : [400, 'Bad Request', 'The request is not valid HTTP/1.1'];
  const body = JSON.stringify({ type: 'urn:chorus:error:BAD_REQUEST', title: ERRORS.BAD_REQUEST.title, status, detail, code: 'BAD_REQUEST' });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}
