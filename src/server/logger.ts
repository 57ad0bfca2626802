import pino, { type Logger } from 'pino';
import type { ServerConfig } from './config.js';

/**
 * Structured JSON logs. Headers are never logged (Fastify's default serializers leave them out),
 * and the redaction below is a second guard for anything that carries a secret.
 */
export function createLogger(level: ServerConfig['logLevel']): Logger {
  return pino({
    level,
    redact: {
      paths: ['req.headers.authorization', 'password', 'token', '*.password', '*.token', 'key', '*.key'],
      censor: '[redacted]',
    },
  });
}
