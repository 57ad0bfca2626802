import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import {
  newSigningKeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFingerprint,
  publicKeyToBase64,
} from '../protocol/crypto.js';
import { createPublicKey } from 'node:crypto';
import { makePrivateFile, makePrivateFolder } from './private-files.js';

export const SIGNING_KEY_FILE = 'server-signing-key.pem';

/**
 * The server's Ed25519 identity. Members share each chat's key, so only a signature can show
 * that a datagram really comes from the server; clients pin this public key at first login, so
 * it must survive restarts: it is kept in the data folder, readable by the owner only.
 */
export class ServerIdentity {
  readonly publicKeyBase64: string;
  readonly fingerprint: string;

  private constructor(
    readonly privateKey: KeyObject,
    readonly publicKey: KeyObject,
  ) {
    this.publicKeyBase64 = publicKeyToBase64(publicKey);
    this.fingerprint = publicKeyFingerprint(publicKey);
  }

  static loadOrCreate(dataDir: string): ServerIdentity {
    makePrivateFolder(dataDir);
    const file = join(dataDir, SIGNING_KEY_FILE);
    if (existsSync(file)) {
      makePrivateFile(file);
      const privateKey = privateKeyFromPem(readFileSync(file, 'utf8'));
      return new ServerIdentity(privateKey, createPublicKey(privateKey));
    }
    const { privateKey, publicKey } = newSigningKeyPair();
    writeFileSync(file, privateKeyToPem(privateKey), { mode: 0o600, flag: 'wx' });
    makePrivateFile(file); // the mode above is filtered by the umask
    return new ServerIdentity(privateKey, publicKey);
  }
}
