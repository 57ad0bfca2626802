import { describe, expect, it } from 'vitest';
import type { TLSSocket } from 'node:tls';
import { ChorusError } from '../protocol/errors.js';
import { isCertificateError, isFingerprint, normalizeFingerprint, pinMismatch } from './certificate-pin.js';

const CANONICAL = '83:15:11:48:F0:B6:18:BE:F4:3C:6F:51:A6:EF:5C:BE:E9:16:61:09:1C:20:B8:E3:B8:A4:4A:A8:17:6A:99:DB';

describe('normalizeFingerprint', () => {
  it('accepts the colon form, plain hex, any case, and what openssl prints', () => {
    expect(normalizeFingerprint(CANONICAL)).toBe(CANONICAL);
    expect(normalizeFingerprint(CANONICAL.replace(/:/g, '').toLowerCase())).toBe(CANONICAL);
    expect(normalizeFingerprint(`  ${CANONICAL.toLowerCase()}\n`)).toBe(CANONICAL);
    expect(normalizeFingerprint(`sha256 Fingerprint=${CANONICAL}`)).toBe(CANONICAL);
    expect(isFingerprint(normalizeFingerprint(CANONICAL)!)).toBe(true);
  });

  it('refuses anything that is not 32 bytes of hex', () => {
    expect(normalizeFingerprint(CANONICAL.slice(0, -3))).toBeUndefined();
    expect(normalizeFingerprint(`${CANONICAL}:00`)).toBeUndefined();
    expect(normalizeFingerprint(CANONICAL.replace('83', 'G3'))).toBeUndefined();
    expect(normalizeFingerprint('')).toBeUndefined();
    expect(isFingerprint(CANONICAL.toLowerCase())).toBe(false);
    expect(isFingerprint(CANONICAL.replace(/:/g, ''))).toBe(false);
  });
});

/** A TLS socket whose peer presents a certificate with this fingerprint. */
function presenting(fingerprint256: string): TLSSocket {
  return { getPeerCertificate: () => ({ fingerprint256 }) } as unknown as TLSSocket;
}

describe('pinMismatch', () => {
  it('the pinned certificate: no error', () => {
    expect(pinMismatch(presenting(CANONICAL), CANONICAL, 'https://10.0.0.5:6789')).toBeUndefined();
  });

  it('another certificate: CERTIFICATE_CHANGED, saying what was expected and what came, in one line', () => {
    const error = pinMismatch(presenting('AA:BB'), CANONICAL, 'https://10.0.0.5:6789')!;
    expect(error).toBeInstanceOf(ChorusError);
    expect(error.message).toMatch(new RegExp(`^the server's certificate changed: expected ${CANONICAL}, got AA:BB \\(`));
    expect(error.message).not.toContain('\n');
    expect(error.code).toBe('CERTIFICATE_CHANGED');
  });
});

describe('isCertificateError', () => {
  it('tells certificate failures from network ones', () => {
    expect(isCertificateError({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).toBe(true);
    expect(isCertificateError({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })).toBe(true);
    expect(isCertificateError({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })).toBe(true);
    expect(isCertificateError({ code: 'ECONNRESET' })).toBe(false);
    expect(isCertificateError(new Error('x'))).toBe(false);
    expect(isCertificateError(null)).toBe(false);
  });
});
