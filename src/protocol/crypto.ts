import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as signData,
  verify as verifySignature,
} from 'node:crypto';

/**
 * AEAD (AES-256-GCM) for chat datagrams and Ed25519 signatures by the server, over node:crypto.
 * docs/protocol.md explains the choices; the pitfalls are commented where they bite.
 */

export const CHAT_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;

const CIPHER = 'aes-256-gcm';
const NONCE_PREFIX_BYTES = 4;
const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

export function newChatKey(): Buffer {
  return randomBytes(CHAT_KEY_BYTES);
}

/**
 * GCM nonces: a random 4-byte prefix chosen per instance, then a 64-bit big-endian counter.
 * A nonce used twice under one key reveals the XOR of two plaintexts and lets anyone forge
 * tags, so it must never happen. The counter cannot repeat within an instance (it refuses to
 * wrap), and it lives only in memory: so a key must never outlive the instance counting under
 * it. The server holds one NonceSource per key and starts a new key epoch at each start; the
 * random prefix is a second guard should two instances ever share a key by mistake.
 */
export class NonceSource {
  private counter: bigint;

  /**
   * The defaults are what production wants. The parameters exist for tests (a fixed prefix, a
   * counter near its end); two sources with the same prefix must never serve the same key.
   */
  constructor(
    private readonly prefix: Buffer = randomBytes(NONCE_PREFIX_BYTES),
    firstCounter = 0n,
  ) {
    if (prefix.length !== NONCE_PREFIX_BYTES) throw new RangeError(`Nonce prefix must be ${NONCE_PREFIX_BYTES} bytes`);
    if (firstCounter < 0n || firstCounter > MAX_COUNTER) throw new RangeError('Nonce counter out of range');
    this.counter = firstCounter;
  }

  next(): Buffer {
    if (this.counter > MAX_COUNTER) throw new Error('Nonce counter exhausted: start a new key epoch');
    const nonce = Buffer.allocUnsafe(NONCE_BYTES);
    this.prefix.copy(nonce, 0);
    nonce.writeBigUInt64BE(this.counter, NONCE_PREFIX_BYTES);
    this.counter++;
    return nonce;
  }
}

function checkKeyAndNonce(key: Buffer, nonce: Buffer): void {
  if (key.length !== CHAT_KEY_BYTES) throw new RangeError(`Chat key must be ${CHAT_KEY_BYTES} bytes`);
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`Nonce must be ${NONCE_BYTES} bytes`);
}

/** AES-256-GCM: ciphertext followed by the 16-byte tag. */
export function seal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  checkKeyAndNonce(key, nonce);
  const cipher = createCipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const last = cipher.final();
  return Buffer.concat([body, last, cipher.getAuthTag()]);
}

/** The plaintext, or undefined if anything is wrong: key, nonce, tag, ciphertext or aad. */
export function open(key: Buffer, nonce: Buffer, sealed: Buffer, aad: Buffer): Buffer | undefined {
  if (sealed.length < TAG_BYTES || key.length !== CHAT_KEY_BYTES || nonce.length !== NONCE_BYTES) return undefined;
  try {
    // Without authTagLength Node accepts a tag as short as 4 bytes, so a forger would only
    // have to guess 32 bits. With it, any tag but a full 16-byte one is refused.
    const decipher = createDecipheriv(CIPHER, key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    decipher.setAAD(aad);
    const body = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    const last = decipher.final();
    return last.length === 0 ? body : Buffer.concat([body, last]);
  } catch {
    return undefined;
  }
}

export interface SigningKeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newSigningKeyPair(): SigningKeyPair {
  return generateKeyPairSync('ed25519');
}

/** Ed25519 signature (64 bytes). */
export function sign(privateKey: KeyObject, data: Buffer): Buffer {
  return signData(null, data, privateKey);
}

/** Whether `signature` is `publicKey`'s Ed25519 signature of `data`. Never throws. */
export function verify(publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verifySignature(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== 'ed25519') throw new TypeError('Not an Ed25519 key');
  // A private key's export would be its private part: always export the public half.
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  const { x } = key.export({ format: 'jwk' });
  if (typeof x !== 'string') throw new TypeError('Not an Ed25519 key');
  return Buffer.from(x, 'base64url');
}

/** The raw 32-byte public key in standard base64, as the HTTP API hands it to clients. */
export function publicKeyToBase64(publicKey: KeyObject): string {
  return rawPublicKey(publicKey).toString('base64');
}

/** The inverse of publicKeyToBase64. Throws TypeError unless given exactly that form. */
export function publicKeyFromBase64(text: string): KeyObject {
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== PUBLIC_KEY_BYTES || raw.toString('base64') !== text) {
    throw new TypeError('Not a base64 Ed25519 public key');
  }
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** PKCS#8 PEM, for keeping the server's signing key on disk. */
export function privateKeyToPem(privateKey: KeyObject): string {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('Not an Ed25519 private key');
  }
  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function privateKeyFromPem(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('Not an Ed25519 private key');
  return key;
}

/** SHA-256 of the raw public key, lowercase hex: what people compare to check a pinned key. */
export function publicKeyFingerprint(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex');
}
