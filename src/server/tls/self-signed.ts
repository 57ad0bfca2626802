import { type KeyObject, X509Certificate, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import * as der from './der.js';

/**
 * A self-signed X.509 v3 certificate (RFC 5280) for the server's TLS, built with the DER encoder
 * next door because node:crypto reads certificates but cannot make them. ECDSA P-256 with
 * SHA-256: small, fast, and accepted by every TLS stack. Clients pin the certificate by its
 * fingerprint, so nothing here needs a certificate authority.
 */

export interface SelfSignedOptions {
  /** Subject and issuer common name. */
  commonName: string;
  /** subjectAltName entries: IP addresses (v4 or v6) and DNS names. At least one. */
  names: string[];
  /** Default: now, less an hour for clocks that run behind. */
  notBefore?: Date;
  /** Default: ten years (3650 days). */
  validDays?: number;
}

export interface SelfSigned {
  /** PEM "CERTIFICATE" */
  certPem: string;
  /** PEM PKCS#8 "PRIVATE KEY" */
  keyPem: string;
}

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_VALID_DAYS = 3650;

export function createSelfSignedCertificate(options: SelfSignedOptions): SelfSigned {
  if (options.names.length === 0) throw new RangeError('a certificate needs at least one subjectAltName');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const notBefore = options.notBefore ?? new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = new Date(notBefore.getTime() + (options.validDays ?? DEFAULT_VALID_DAYS) * DAY_MS);
  const signatureAlgorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const name = der.sequence(der.setOf(der.sequence(der.oid(OID.commonName), der.utf8String(options.commonName))));

  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // version: v3
    der.integer(serialNumber()),
    signatureAlgorithm,
    name, // issuer: self-signed, so the subject
    der.sequence(der.time(notBefore), der.time(notAfter)),
    name, // subject
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, extensions(options.names)),
  );
  // ECDSA signatures from node:crypto are DER (dsaEncoding 'der'), which is what X.509 carries.
  const signature = sign('sha256', tbs, privateKey);
  const certificate = der.sequence(tbs, signatureAlgorithm, der.bitString(signature));

  const certPem = toPem('CERTIFICATE', certificate);
  assertReadable(certPem, publicKey);
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** 16 random bytes, top bit clear so the INTEGER stays positive, and never zero (RFC 5280 §4.1.2.2). */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes;
}

function extensions(names: string[]): Buffer {
  const extension = (id: string, critical: boolean, value: Buffer) =>
    der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
  return der.sequence(
    // Not a CA: an empty BasicConstraints (cA defaults to FALSE).
    extension(OID.basicConstraints, true, der.sequence()),
    // digitalSignature only (bit 0): ECDHE-ECDSA signs the handshake; 7 unused bits.
    extension(OID.keyUsage, true, der.bitString(Buffer.of(0x80), 7)),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, der.sequence(...names.map(generalName))),
  );
}

/** GeneralName: [7] iPAddress (4 or 16 bytes) or [2] dNSName (IA5String). */
function generalName(name: string): Buffer {
  const family = isIP(name);
  if (family === 4) return der.implicitPrimitive(7, Buffer.from(name.split('.').map(Number)));
  if (family === 6) return der.implicitPrimitive(7, ipv6Bytes(name));
  if (!/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name)) {
    throw new RangeError(`"${name.slice(0, 80)}" is neither an IP address nor a DNS name`);
  }
  return der.implicitPrimitive(2, Buffer.from(name, 'ascii'));
}

/** The 16 bytes of an IPv6 address, "::" and an embedded IPv4 tail included. */
export function ipv6Bytes(address: string): Buffer {
  if (isIP(address) !== 6) throw new RangeError(`"${address}" is not an IPv6 address`);
  let text = address.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

function toPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** A certificate that OpenSSL cannot read back, or whose signature does not check, is a bug here. */
function assertReadable(certPem: string, publicKey: KeyObject): void {
  const parsed = new X509Certificate(certPem);
  if (!parsed.verify(publicKey)) throw new Error('the self-signed certificate does not verify with its own key');
}
