import { createHmac, randomBytes } from 'node:crypto';
import pino, { type DestinationStream, type Logger } from 'pino';
import { normalizeChatCode } from '../protocol/chat-code.js';
import type { ServerConfig } from './config.js';

/**
 * Structured JSON logs. Headers are never logged (Fastify's default serializers leave them out),
 * and the redaction below is a second guard for anything that carries a secret.
 *
 * Chat codes are secrets too (whoever has one may join), and they travel in request URLs
 * (`/api/chats/ZSS2C-DM84E/messages`) and in error messages. Every line is masked as it is
 * written, whatever logged it: a code becomes `chat:` and a tag that names it within this
 * process's logs (so lines about one chat can still be followed) and nowhere else.
 */
export function createLogger(level: ServerConfig['logLevel'], destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      redact: {
        paths: ['req.headers.authorization', 'password', 'token', '*.password', '*.token', 'key', '*.key'],
        censor: '[redacted]',
      },
      hooks: { streamWrite: maskChatCodes },
    },
    destination,
  );
}

// A keyed hash: a tag cannot be checked against guessed codes by someone who reads the logs.
const TAG_KEY = randomBytes(32);

/** `chat:` and 8 hex digits naming the chat whose canonical code is `code`. */
function tagOf(code: string): string {
  return `chat:${createHmac('sha256', TAG_KEY).update(code).digest('hex').slice(0, 8)}`;
}

// A path segment or a query value, as it appears in a URL: anything a route would read as a
// code there (lower case, look-alikes, percent-encoded) is one.
const URL_PART = /(?<=\/|[?&][^=&#\s"\\]*=)[^/?#&=\s"\\]+/g;
// In any text: XXXXX-XXXXX in either case, or the canonical ten characters (upper case, no
// look-alikes, not all digits: ten digits are far more often a number), standing alone; after a
// JSON escape such as \n counts as standing alone.
const LOOSE_CODE = /(?:(?<![0-9A-Za-z])|(?<=\\[nrtbf]))(?:[0-9A-Za-z]{5}-[0-9A-Za-z]{5}|(?=[0-9]*[A-Z])[0-9A-HJKMNP-TV-Z]{10})(?![0-9A-Za-z])/g;

/** The line with every chat code in it replaced by its tag. Exported for its tests. */
export function maskChatCodes(line: string): string {
  return line.replace(URL_PART, maskIfCode).replace(LOOSE_CODE, maskIfCode);
}

function maskIfCode(text: string): string {
  const code = normalizeChatCode(decodeUrlPart(text));
  return code === undefined ? text : tagOf(code);
}

function decodeUrlPart(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}
