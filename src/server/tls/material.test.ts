import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TLS_CERT_FILE, TLS_KEY_FILE, certificateNames, loadOrCreateSelfSigned, loadTlsFiles } from './material.js';
import { createSelfSignedCertificate } from './self-signed.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chorus-tls-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadOrCreateSelfSigned', () => {
  it('makes a certificate for the host on first start, the key readable by the owner only', () => {
    const made = loadOrCreateSelfSigned(join(dir, 'data'), '192.168.1.20');
    const keyFile = join(dir, 'data', TLS_KEY_FILE);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'data')).mode & 0o777).toBe(0o700);
    const cert = new X509Certificate(readFileSync(join(dir, 'data', TLS_CERT_FILE), 'utf8'));
    expect(cert.fingerprint256).toBe(made.fingerprint);
    expect(made.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(cert.checkIP('192.168.1.20')).toBe('192.168.1.20');
    expect(cert.subject).toBe('CN=chorus');
    expect(readFileSync(keyFile, 'utf8')).toBe(made.key);
  });

  it('loads the same certificate and key at the next start, whatever the host', () => {
    const first = loadOrCreateSelfSigned(dir, '127.0.0.1');
    const second = loadOrCreateSelfSigned(dir, '10.0.0.5');
    expect(second).toEqual(first);
  });

  it('refuses a certificate whose key is gone, rather than silently changing the fingerprint', () => {
    loadOrCreateSelfSigned(dir, '127.0.0.1');
    unlinkSync(join(dir, TLS_KEY_FILE));
    expect(() => loadOrCreateSelfSigned(dir, '127.0.0.1')).toThrow(/is there but its key .* is not/);
  });

  it('remakes both when only a key was left (a crash between the two writes)', () => {
    const first = loadOrCreateSelfSigned(dir, '127.0.0.1');
    unlinkSync(join(dir, TLS_CERT_FILE));
    const second = loadOrCreateSelfSigned(dir, '127.0.0.1');
    expect(second.fingerprint).not.toBe(first.fingerprint);
    expect(new X509Certificate(second.cert).checkPrivateKey(createPrivateKeyFrom(join(dir, TLS_KEY_FILE)))).toBe(true);
  });
});

function createPrivateKeyFrom(file: string) {
  return createPrivateKey(readFileSync(file, 'utf8'));
}

describe('loadTlsFiles (the operator\'s own certificate)', () => {
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const a = createSelfSignedCertificate({ commonName: 'operator', names: ['chat.example.lan'] });
  const b = createSelfSignedCertificate({ commonName: 'other', names: ['localhost'] });

  it('uses a matching certificate and key as they are', () => {
    const material = loadTlsFiles(write('cert.pem', a.certPem), write('key.pem', a.keyPem));
    expect(material).toEqual({ cert: a.certPem, key: a.keyPem, fingerprint: new X509Certificate(a.certPem).fingerprint256 });
  });

  it('refuses a key that belongs to another certificate', () => {
    expect(() => loadTlsFiles(write('cert.pem', a.certPem), write('key.pem', b.keyPem))).toThrow(/does not belong to the certificate/);
  });

  it('refuses files that are not what they should be, without repeating a key\'s content', () => {
    const secret = 'not-a-key-but-secret-looking-text';
    expect(() => loadTlsFiles(write('cert.pem', a.certPem), write('key.pem', secret))).toThrow(/does not hold a PEM private key/);
    try {
      loadTlsFiles(write('cert.pem', a.certPem), write('key.pem', secret));
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
    expect(() => loadTlsFiles(write('cert.pem', 'hello'), write('key.pem', a.keyPem))).toThrow(/does not hold a PEM certificate/);
    expect(() => loadTlsFiles(join(dir, 'missing.pem'), write('key.pem', a.keyPem))).toThrow(/cannot read the TLS certificate .*missing\.pem/);
  });

  it('refuses an expired certificate', () => {
    const old = createSelfSignedCertificate({ commonName: 'old', names: ['localhost'], notBefore: new Date('2020-01-01T00:00:00Z'), validDays: 30 });
    expect(() => loadTlsFiles(write('cert.pem', old.certPem), write('key.pem', old.keyPem))).toThrow(/expired on/);
  });
});

describe('certificateNames', () => {
  it('names the listening address, and loopback', () => {
    expect(certificateNames('192.168.1.20')).toEqual(['192.168.1.20', 'localhost', '127.0.0.1', '::1']);
    expect(certificateNames('chat.example.lan')).toEqual(['chat.example.lan', 'localhost', '127.0.0.1', '::1']);
    expect(certificateNames('127.0.0.1')).toEqual(['127.0.0.1', 'localhost', '::1']);
  });

  it('names every address of the machine for a wildcard address', () => {
    const names = certificateNames('0.0.0.0');
    expect(names).not.toContain('0.0.0.0');
    expect(names).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '::1']));
    expect(new Set(names).size).toBe(names.length);
  });

  it('is always something the certificate builder accepts', () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'fe80::1', 'my-host']) {
      expect(() => createSelfSignedCertificate({ commonName: 'chorus', names: certificateNames(host) })).not.toThrow();
    }
  });
});

it('leaves nothing behind but the two files (no temporary files)', () => {
  loadOrCreateSelfSigned(dir, '127.0.0.1');
  expect(readdirSync(dir).sort()).toEqual([TLS_CERT_FILE, TLS_KEY_FILE].sort());
});
