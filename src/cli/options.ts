import { isIPv4 } from 'node:net';
import { type Command, InvalidArgumentError } from 'commander';
import { formatChatCode, normalizeChatCode } from '../protocol/chat-code.js';
import { DEFAULT_HOST, DEFAULT_HTTP_PORT } from '../protocol/defaults.js';
import { isEmailAddress, normalizeEmail } from '../protocol/email-address.js';
import { isLoopbackHost } from '../protocol/loopback.js';
import { usageError } from './output.js';

/** Arguments and option values shared by several command groups, each checked once, at the edge. */

/** The code in its displayed form (XXXXX-XXXXX), or a usage error when it cannot be one. */
export function chatCodeArgument(input: string): string {
  const code = normalizeChatCode(input);
  if (!code) throw usageError(`"${input.slice(0, 40)}" is not a chat code: codes look like ABCDE-12345`);
  return formatChatCode(code);
}

/**
 * Text given as arguments (a message) may start with "-", which commander takes for an option
 * it does not know, and refuses. For such a word, the refusal adds `hint(word)`: how to give it
 * as text, after `--`, which ends the options. A word shaped like a long option (`--jsn`) is
 * more likely a mistyped one, and keeps commander's own "did you mean".
 */
export function explainDashText(command: Command, hint: (word: string) => string): Command {
  const inherited = command.configureOutput().outputError ?? ((text: string, write: (text: string) => void) => write(text));
  return command.configureOutput({
    outputError: (text, write) => {
      const word = /^error: unknown option '(.+)'\n$/s.exec(text)?.[1];
      inherited(word === undefined || /^--[a-z]/i.test(word) ? text : `${text.trimEnd()}: ${hint(word)}\n`, write);
    },
  });
}

/** For commander: a whole number of 1 or more. */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('Give a whole number of 1 or more.');
  }
  return Number(value);
}

/** For commander: a whole number from 0 to `max`. */
export function countUpTo(max: number): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) > max) throw new InvalidArgumentError(`Give a whole number from 0 to ${max}.`);
    return Number(value);
  };
}

/** --multicast-interface: the IPv4 address of one of this machine's interfaces. */
export function multicastInterface(value: string): string {
  if (!isIPv4(value.trim())) {
    throw usageError(`invalid --multicast-interface "${value.slice(0, 80)}": give the IPv4 address of one of this machine's interfaces, e.g. 127.0.0.1`);
  }
  return value.trim();
}

/** Where clients look for a server unless told: the server's own defaults. */
export const DEFAULT_SERVER = `http://${DEFAULT_HOST}:${DEFAULT_HTTP_PORT}`;

/**
 * --server: a server's address, scheme, host and port only (e.g. http://127.0.0.1:6789), as
 * `login` saves it in the profile and `client` reads it back: both take the same addresses.
 */
export function serverUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(withScheme(raw.trim()));
  } catch {
    throw usageError(`invalid --server "${raw.slice(0, 80)}": give a URL such as ${DEFAULT_SERVER}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`invalid --server "${raw.slice(0, 80)}": it must start with http:// or https://`);
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') {
    throw usageError(`invalid --server: give only the scheme, host and port, e.g. ${DEFAULT_SERVER}`);
  }
  return url.origin;
}

/**
 * A bare `host:port` (or `host`, on Chorus's port) is taken with the scheme that server must
 * speak: beyond loopback a server always speaks TLS (https), on loopback plain HTTP unless it
 * was told otherwise, when the full URL must be given.
 */
function withScheme(raw: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) return raw;
  const bare = /^(\[[^\]]*\]|[^:/[\]]+)(:\d+)?$/.exec(raw);
  if (!bare) return raw;
  const [, host, port] = bare;
  return `${isLoopbackHost(host!) ? 'http' : 'https'}://${host}${port ?? `:${DEFAULT_HTTP_PORT}`}`;
}

/** --email: an account's address, in the form the server keeps it (protocol/email-address.ts). */
export function emailOption(value: string): string {
  const email = normalizeEmail(value);
  if (!isEmailAddress(email)) throw usageError(`invalid --email "${value.slice(0, 80)}": give an email address such as ada@example.com`);
  return email;
}
