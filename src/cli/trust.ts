import { createInterface } from 'node:readline/promises';
import { unreachable } from '../client/api.js';
import { normalizeFingerprint, probeFingerprint } from '../client/certificate-pin.js';
import { CliError, usageError } from './output.js';

/**
 * First contact with an https:// server: which certificate to pin. A Chorus server beyond
 * loopback usually presents a certificate it made itself, so nothing but its operator can vouch
 * for it: the user compares the fingerprint with the one `chorus server` printed, at a prompt,
 * or gives it with --fingerprint (scripts). Nothing is sent to the server before that.
 */

export const FINGERPRINT_HELP = 'the SHA-256 fingerprint of the server\'s certificate, as `chorus server` printed it at start (64 hex digits, colons optional); needed the first time for an https:// server without a terminal';

/**
 * The fingerprint to pin for `server` at a login: --fingerprint, else the one this profile
 * pinned before, else the one the server presents, confirmed at the terminal. Undefined for
 * http://, which has no certificate.
 */
export async function fingerprintToPin(server: string, pinned: string | undefined, flag: string | undefined): Promise<string | undefined> {
  const url = new URL(server);
  if (url.protocol !== 'https:') {
    if (flag !== undefined) throw usageError('--fingerprint is for https:// servers: a plain http:// server has no certificate');
    return undefined;
  }
  if (flag !== undefined) {
    const fingerprint = normalizeFingerprint(flag);
    if (!fingerprint) throw usageError(`invalid --fingerprint "${flag.slice(0, 120)}": give the 64 hex digits \`chorus server\` printed at start (colons optional)`);
    return fingerprint;
  }
  if (pinned !== undefined) return pinned;
  if (!process.stdin.isTTY) {
    throw usageError(
      `this profile has not trusted ${server} before, and without a terminal nobody can confirm its certificate: ` +
        'pass --fingerprint with the SHA-256 fingerprint `chorus server` printed when it started',
    );
  }
  return confirmAtTerminal(server, await presented(url));
}

async function presented(url: URL): Promise<string> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  try {
    return await probeFingerprint(host, Number(url.port || 443));
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw unreachable(url.origin, e.code === 'ECONNREFUSED' ? 'connection refused' : e.message, { cause: error });
  }
}

async function confirmAtTerminal(server: string, fingerprint: string): Promise<string> {
  process.stderr.write(
    `The server at ${server} presents a certificate with the SHA-256 fingerprint\n  ${fingerprint}\n` +
      'Compare it with the fingerprint its operator has (`chorus server` printed it when it started).\n',
  );
  const prompt = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const cancel = new AbortController();
  prompt.once('SIGINT', () => cancel.abort());
  prompt.once('close', () => cancel.abort()); // Ctrl-D
  let answer: string;
  try {
    answer = await prompt.question('Trust this server? [y/N] ', { signal: cancel.signal });
  } catch {
    throw new CliError('cancelled', 130);
  } finally {
    prompt.close();
  }
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new CliError(`not trusted: nothing was sent to ${server}`);
  return fingerprint;
}
