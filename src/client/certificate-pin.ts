import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { type ChorusError, chorusError } from '../protocol/errors.js';

/**
 * Certificate pinning: a Chorus server beyond loopback speaks TLS with a certificate that no
 * authority signed (it made it itself), so clients trust it by its SHA-256 fingerprint, learned
 * at the first login (the user confirms it, or gives it with --fingerprint) and kept in the
 * profile. Every TLS connection checks the fingerprint right after the handshake, before a
 * single byte of the request, the token or the password is written.
 *
 * Fingerprints are written as Node and OpenSSL print them: uppercase hex pairs joined by colons.
 */

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

/** A TLS connection must be made, handshake included, within this unless told otherwise. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** The connection and handshake did not finish in time: the server accepted, then said nothing. */
export class HandshakeTimeoutError extends Error {
  override readonly name = 'HandshakeTimeoutError';
  readonly code = 'HANDSHAKE_TIMEOUT' as const;

  constructor(readonly timeoutMs: number) {
    super(`no TLS handshake within ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 100) / 10} s` : `${timeoutMs} ms`}`);
  }
}

/** Destroys `socket` with a HandshakeTimeoutError unless the timer returned is cleared first (on 'secureConnect'). */
export function handshakeDeadline(socket: TLSSocket, timeoutMs: number): NodeJS.Timeout {
  return setTimeout(() => socket.destroy(new HandshakeTimeoutError(timeoutMs)), timeoutMs);
}

/** The canonical form of a fingerprint typed with or without colons, in any case; undefined if it is not one. */
export function normalizeFingerprint(input: string): string | undefined {
  const hex = input.trim().replace(/^sha256 fingerprint=/i, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  return hex.toUpperCase().match(/../g)!.join(':');
}

export function isFingerprint(value: string): boolean {
  return FINGERPRINT.test(value);
}

/**
 * The error to fail a connection with when its peer's certificate is not the pinned one: a
 * ChorusError CERTIFICATE_CHANGED (nothing was sent to the server).
 */
export function pinMismatch(socket: TLSSocket, expected: string, server: string): ChorusError | undefined {
  const got = socket.getPeerCertificate()?.fingerprint256;
  return got === expected ? undefined : chorusError('CERTIFICATE_CHANGED', server, expected, got ?? 'no certificate');
}

/**
 * How to open a TLS connection to a Chorus server: pinned, the certificate chain is not
 * verified (a self-signed certificate has none) and the caller checks the fingerprint with
 * pinMismatch on 'secureConnect'; not pinned, the usual verification against this machine's
 * trusted authorities and the host name applies.
 */
export function tlsOptions(host: string, port: number, pinned: boolean): ConnectionOptions {
  return { host, port, rejectUnauthorized: !pinned };
}

/** Did a TLS connection fail because its certificate could not be verified (as opposed to the network)? */
export function isCertificateError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code);
}

/**
 * The fingerprint of the certificate a server presents, for a first contact: a TLS handshake
 * and nothing else (no request, no token) before the connection is closed.
 */
export function probeFingerprint(host: string, port: number, timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(tlsOptions(host, port, true));
    const timer = handshakeDeadline(socket, timeoutMs);
    socket.once('secureConnect', () => {
      const fingerprint = socket.getPeerCertificate()?.fingerprint256;
      clearTimeout(timer);
      socket.destroy();
      if (fingerprint) resolve(fingerprint);
      else reject(new Error('the server presented no certificate'));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
