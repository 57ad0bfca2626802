import { X509Certificate, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { type TLSSocket, connect, createServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCertificate, ipv6Bytes } from './self-signed.js';

const NAMES = ['127.0.0.1', 'localhost', '::1', 'chorus.example.lan', '192.168.1.20'];

describe('createSelfSignedCertificate', () => {
  const notBefore = new Date('2026-01-02T03:04:05Z');
  const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: NAMES, notBefore });
  const cert = new X509Certificate(certPem);

  it('is an X.509 certificate OpenSSL reads back: subject, issuer, validity of ten years', () => {
    expect(cert.subject).toBe('CN=chorus');
    expect(cert.issuer).toBe('CN=chorus');
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe(new Date(notBefore.getTime() + 3650 * 86_400_000).toISOString());
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  it('names every address and host name it was given', () => {
    expect(cert.subjectAltName).toBe(
      'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1, DNS:chorus.example.lan, IP Address:192.168.1.20',
    );
    expect(cert.checkIP('192.168.1.20')).toBe('192.168.1.20');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkHost('chorus.example.lan')).toBe('chorus.example.lan');
    expect(cert.checkIP('192.168.1.21')).toBeUndefined();
    expect(cert.checkHost('other.example.lan')).toBeUndefined();
  });

  it('is signed by its own key, which is the private key handed back', () => {
    const key = createPrivateKey(keyPem);
    expect(cert.verify(createPublicKey(key))).toBe(true);
    expect(cert.checkPrivateKey(key)).toBe(true);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const other = createSelfSignedCertificate({ commonName: 'chorus', names: ['localhost'] });
    expect(cert.verify(createPublicKey(other.keyPem))).toBe(false);
    expect(cert.checkPrivateKey(createPrivateKey(other.keyPem))).toBe(false);
  });

  it('has the fingerprint of its DER bytes, and a positive random serial number; each call makes a new key', () => {
    const digest = createHash('sha256').update(cert.raw).digest('hex').toUpperCase();
    expect(cert.fingerprint256).toBe(digest.match(/../g)!.join(':'));
    expect(cert.serialNumber).toMatch(/^[0-7][0-9A-F]{31}$/);
    const again = createSelfSignedCertificate({ commonName: 'chorus', names: NAMES, notBefore });
    expect(new X509Certificate(again.certPem).fingerprint256).not.toBe(cert.fingerprint256);
    expect(new X509Certificate(again.certPem).serialNumber).not.toBe(cert.serialNumber);
  });

  it('refuses names that are neither addresses nor DNS names, and an empty list', () => {
    expect(() => createSelfSignedCertificate({ commonName: 'chorus', names: [] })).toThrow(RangeError);
    expect(() => createSelfSignedCertificate({ commonName: 'chorus', names: ['bad name'] })).toThrow(RangeError);
    expect(() => createSelfSignedCertificate({ commonName: 'chorus', names: ['-leading.dash'] })).toThrow(RangeError);
  });

  it('writes IPv6 addresses as their 16 bytes', () => {
    expect(ipv6Bytes('::1').toString('hex')).toBe('00000000000000000000000000000001');
    expect(ipv6Bytes('fe80::1:2').toString('hex')).toBe('fe800000000000000000000000010002');
    expect(ipv6Bytes('2001:db8:0:0:1:0:0:1').toString('hex')).toBe('20010db8000000000001000000000001');
    expect(ipv6Bytes('::ffff:10.0.0.1').toString('hex')).toBe('00000000000000000000ffff0a000001');
    expect(ipv6Bytes('1::').toString('hex')).toBe('00010000000000000000000000000000');
    expect(() => ipv6Bytes('10.0.0.1')).toThrow(RangeError);
  });
});

describe('a TLS handshake with it', () => {
  const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: ['127.0.0.1', 'localhost'] });
  const server = createServer({ cert: certPem, key: keyPem }, (socket) => socket.end('hello over TLS'));
  let port = 0;
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  async function read(socket: TLSSocket): Promise<string> {
    let text = '';
    socket.setEncoding('utf8').on('data', (s: string) => (text += s));
    await once(socket, 'end');
    return text;
  }

  it('works with the certificate pinned by fingerprint, the way Chorus clients connect', async () => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    expect(socket.getPeerCertificate().fingerprint256).toBe(new X509Certificate(certPem).fingerprint256);
    expect(socket.authorized).toBe(false); // self-signed: no authority vouches for it, the pin does
    expect(await read(socket)).toBe('hello over TLS');
  });

  it('is accepted by OpenSSL as a trusted certificate for its names, and refused for another name', async () => {
    const trusted = connect({ host: '127.0.0.1', port, ca: certPem });
    await once(trusted, 'secureConnect');
    expect(trusted.authorized).toBe(true);
    expect(await read(trusted)).toBe('hello over TLS');

    const byName = connect({ host: '127.0.0.1', port, ca: certPem, servername: 'localhost' });
    await once(byName, 'secureConnect');
    expect(byName.authorized).toBe(true);
    byName.destroy();

    const wrongName = connect({ host: '127.0.0.1', port, ca: certPem, servername: 'elsewhere.example' });
    const [error] = (await once(wrongName, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('is refused by default verification (no authority signed it)', async () => {
    const socket = connect({ host: '127.0.0.1', port });
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
