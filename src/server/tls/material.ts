import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { makePrivateFile, makePrivateFolder } from '../private-files.js';
import { createSelfSignedCertificate } from './self-signed.js';

/**
 * The certificate and key the server speaks TLS with: the operator's own (--tls-cert and
 * --tls-key), or a self-signed one made in the data folder on first start and kept there, so
 * its fingerprint, which clients pin, survives restarts.
 */

export const TLS_CERT_FILE = 'tls-cert.pem';
export const TLS_KEY_FILE = 'tls-key.pem';

export interface TlsMaterial {
  /** PEM */
  cert: string;
  /** PEM */
  key: string;
  /** SHA-256 of the DER certificate, colon-separated uppercase hex (as Node and OpenSSL print it). */
  fingerprint: string;
}

/** The operator's files, checked: a certificate, a key, and the key belongs to the certificate. */
export function loadTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = readText(certFile, 'certificate');
  const key = readText(keyFile, 'private key');
  const parsed = parseCertificate(cert, certFile);
  checkKey(parsed, key, certFile, keyFile);
  if (Date.parse(parsed.validTo) < Date.now()) throw new Error(`the certificate in ${certFile} expired on ${parsed.validTo}`);
  return { cert, key, fingerprint: parsed.fingerprint256 };
}

/**
 * The self-signed certificate in dataDir, made on first start with the names the server is
 * reached by. It is not remade when --host changes: clients pin it, and check no names.
 */
export function loadOrCreateSelfSigned(dataDir: string, host: string): TlsMaterial {
  makePrivateFolder(dataDir);
  const certFile = join(dataDir, TLS_CERT_FILE);
  const keyFile = join(dataDir, TLS_KEY_FILE);
  for (const file of [certFile, keyFile]) makePrivateFile(file);
  if (existsSync(certFile)) {
    if (!existsSync(keyFile)) {
      throw new Error(`${certFile} is there but its key ${keyFile} is not: restore the key, or delete the certificate to make a new one (clients will then refuse the server until they trust the new fingerprint)`);
    }
    return loadTlsFiles(certFile, keyFile);
  }
  // No certificate yet (a key alone is what a crash between the two writes leaves): make both.
  const { certPem, keyPem } = createSelfSignedCertificate({ commonName: 'chorus', names: certificateNames(host) });
  writePrivately(keyFile, keyPem);
  writePrivately(certFile, certPem);
  return { cert: certPem, key: keyPem, fingerprint: new X509Certificate(certPem).fingerprint256 };
}

/** The fingerprint of the self-signed certificate in dataDir, if one is there to read (none is made). */
export function selfSignedFingerprint(dataDir: string): string | undefined {
  try {
    return new X509Certificate(readFileSync(join(dataDir, TLS_CERT_FILE))).fingerprint256;
  } catch {
    return undefined;
  }
}

/** The subjectAltNames: the listening address, or every address of this machine for a wildcard one; and loopback. */
export function certificateNames(host: string): string[] {
  const names: string[] = [];
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  if (!wildcard) names.push(host.replace(/^\[|\]$/g, ''));
  else {
    for (const addresses of Object.values(networkInterfaces())) {
      for (const a of addresses ?? []) if (!a.internal && !a.address.includes('%')) names.push(a.address);
    }
    if (isDnsName(hostname())) names.push(hostname());
  }
  names.push('localhost', '127.0.0.1', '::1');
  return [...new Set(names.filter((n) => isIP(n) !== 0 || isDnsName(n)))];
}

function isDnsName(name: string): boolean {
  return /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name);
}

/** Written to a private temporary file, then renamed: never half a key, never readable by others. */
function writePrivately(file: string, text: string): void {
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
    chmodSync(temp, 0o600); // the mode above is filtered by the umask
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`);
  }
}

function parseCertificate(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new Error(`${file} does not hold a PEM certificate`);
  }
}

function checkKey(cert: X509Certificate, keyPem: string, certFile: string, keyFile: string): void {
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    // The key's text is a secret: the message names the file, never its content.
    throw new Error(`${keyFile} does not hold a PEM private key (an encrypted key is not supported)`);
  }
  if (!cert.checkPrivateKey(key)) throw new Error(`the key in ${keyFile} does not belong to the certificate in ${certFile}`);
}
