import { createCipheriv, createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  NonceSource,
  newChatKey,
  newSigningKeyPair,
  open,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFingerprint,
  publicKeyFromBase64,
  publicKeyToBase64,
  seal,
  sign,
  verify,
} from './crypto.js';

function flipBit(buf: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(buf);
  copy[index] = copy[index]! ^ (1 << bit);
  return copy;
}

describe('AES-256-GCM seal/open', () => {
  const key = newChatKey();
  const nonce = new NonceSource().next();
  const plaintext = Buffer.from('the quick brown fox 🦊');
  const aad = Buffer.from('header bytes');
  const sealed = seal(key, nonce, plaintext, aad);

  it('round-trips and appends a 16-byte tag', () => {
    expect(key.length).toBe(32);
    expect(sealed.length).toBe(plaintext.length + 16);
    expect(open(key, nonce, sealed, aad)).toEqual(plaintext);
    const empty = seal(key, nonce, Buffer.alloc(0), aad);
    expect(empty.length).toBe(16);
    expect(open(key, nonce, empty, aad)).toEqual(Buffer.alloc(0));
  });

  it('rejects a truncated tag (4 and 12 bytes), which a decipher without authTagLength would accept', () => {
    const ciphertext = sealed.subarray(0, plaintext.length);
    const tag = sealed.subarray(plaintext.length);
    for (const tagLength of [4, 12]) {
      const truncated = Buffer.concat([ciphertext, tag.subarray(0, tagLength)]);
      expect(open(key, nonce, truncated, aad)).toBeUndefined();
    }
  });

  it('rejects a sealed text that lost tag bytes or is shorter than a tag', () => {
    for (let length = 0; length < sealed.length; length++) {
      expect(open(key, nonce, sealed.subarray(0, length), aad)).toBeUndefined();
    }
  });

  it('rejects any flipped bit in ciphertext, tag, aad or nonce', () => {
    for (let i = 0; i < sealed.length; i++) {
      for (let bit = 0; bit < 8; bit++) expect(open(key, nonce, flipBit(sealed, i, bit), aad)).toBeUndefined();
    }
    for (let i = 0; i < aad.length; i++) expect(open(key, nonce, sealed, flipBit(aad, i))).toBeUndefined();
    for (let i = 0; i < nonce.length; i++) expect(open(key, flipBit(nonce, i), sealed, aad)).toBeUndefined();
    expect(open(key, nonce, sealed, Buffer.alloc(0))).toBeUndefined();
  });

  it('rejects the wrong key, and bad key or nonce sizes, without throwing', () => {
    expect(open(newChatKey(), nonce, sealed, aad)).toBeUndefined();
    expect(open(key.subarray(0, 16), nonce, sealed, aad)).toBeUndefined();
    expect(open(key, nonce.subarray(0, 8), sealed, aad)).toBeUndefined();
    expect(() => seal(key.subarray(0, 16), nonce, plaintext, aad)).toThrow(RangeError);
    expect(() => seal(key, Buffer.alloc(16), plaintext, aad)).toThrow(RangeError);
  });

  it('is standard AES-256-GCM', () => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(aad);
    const expected = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    expect(sealed).toEqual(expected);
  });
});

describe('NonceSource', () => {
  it('never repeats a nonce within one source', () => {
    const source = new NonceSource();
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(source.next().toString('hex'));
    expect(seen.size).toBe(100_000);
  });

  it('is a 4-byte prefix then a big-endian counter from 0', () => {
    const source = new NonceSource(Buffer.from([1, 2, 3, 4]));
    expect(source.next().toString('hex')).toBe('01020304' + '0000000000000000');
    expect(source.next().toString('hex')).toBe('01020304' + '0000000000000001');
  });

  it('gives different sources different random prefixes', () => {
    const prefixes = new Set<string>();
    for (let i = 0; i < 100; i++) prefixes.add(new NonceSource().next().subarray(0, 4).toString('hex'));
    // 100 draws of 32 bits: a collision has odds of about one in a million.
    expect(prefixes.size).toBe(100);
  });

  it('refuses to wrap its counter', () => {
    const source = new NonceSource(Buffer.alloc(4), 0xffff_ffff_ffff_fffen);
    expect(source.next().subarray(4).toString('hex')).toBe('fffffffffffffffe');
    expect(source.next().subarray(4).toString('hex')).toBe('ffffffffffffffff');
    expect(() => source.next()).toThrow(/exhausted/);
    expect(() => source.next()).toThrow(/exhausted/);
  });

  it('refuses a bad prefix or start', () => {
    expect(() => new NonceSource(Buffer.alloc(3))).toThrow(RangeError);
    expect(() => new NonceSource(Buffer.alloc(4), -1n)).toThrow(RangeError);
    expect(() => new NonceSource(Buffer.alloc(4), 2n ** 64n)).toThrow(RangeError);
  });
});

describe('Ed25519', () => {
  const { privateKey, publicKey } = newSigningKeyPair();
  const data = Buffer.from('datagram bytes to sign');
  const signature = sign(privateKey, data);

  it('signs with 64 bytes and verifies', () => {
    expect(signature.length).toBe(64);
    expect(verify(publicKey, data, signature)).toBe(true);
    expect(verify(publicKey, Buffer.alloc(0), sign(privateKey, Buffer.alloc(0)))).toBe(true);
  });

  it('fails on any modified byte of data or signature', () => {
    for (let i = 0; i < data.length; i++) expect(verify(publicKey, flipBit(data, i), signature)).toBe(false);
    for (let i = 0; i < signature.length; i++) expect(verify(publicKey, data, flipBit(signature, i, 7))).toBe(false);
    expect(verify(publicKey, Buffer.concat([data, Buffer.of(0)]), signature)).toBe(false);
    expect(verify(publicKey, data.subarray(1), signature)).toBe(false);
  });

  it('fails with another key, and never throws', () => {
    expect(verify(newSigningKeyPair().publicKey, data, signature)).toBe(false);
    expect(verify(publicKey, data, signature.subarray(0, 63))).toBe(false);
    expect(verify(publicKey, data, Buffer.concat([signature, Buffer.of(0)]))).toBe(false);
    expect(verify(publicKey, data, Buffer.alloc(0))).toBe(false);
    expect(verify(publicKey, data, Buffer.alloc(64, 0xff))).toBe(false);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(verify(rsa.publicKey, data, signature)).toBe(false);
  });

  it('exports the public key as 32 raw bytes in base64, and back', () => {
    const text = publicKeyToBase64(publicKey);
    const raw = Buffer.from(text, 'base64');
    expect(raw.length).toBe(32);
    // The raw key is the tail of the SPKI DER encoding.
    expect(raw).toEqual(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
    const imported = publicKeyFromBase64(text);
    expect(verify(imported, data, signature)).toBe(true);
    expect(publicKeyToBase64(privateKey)).toBe(text);
  });

  it('refuses base64 that is not one raw public key', () => {
    const text = publicKeyToBase64(publicKey);
    expect(() => publicKeyFromBase64('')).toThrow(TypeError);
    expect(() => publicKeyFromBase64(Buffer.alloc(31).toString('base64'))).toThrow(TypeError);
    expect(() => publicKeyFromBase64(Buffer.alloc(33).toString('base64'))).toThrow(TypeError);
    expect(() => publicKeyFromBase64(text.replace(/=$/, ''))).toThrow(TypeError);
    expect(() => publicKeyFromBase64(`${text}\n`)).toThrow(TypeError);
    expect(() => publicKeyFromBase64('not base64 at all!!')).toThrow(TypeError);
  });

  it('keeps the private key as PKCS#8 PEM', () => {
    const pem = privateKeyToPem(privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const restored = privateKeyFromPem(pem);
    expect(verify(publicKey, data, sign(restored, data))).toBe(true);
    expect(() => privateKeyToPem(publicKey)).toThrow(TypeError);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(() => privateKeyFromPem(rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString())).toThrow(TypeError);
  });

  it('fingerprints the raw public key with SHA-256', () => {
    const raw = Buffer.from(publicKeyToBase64(publicKey), 'base64');
    const fingerprint = publicKeyFingerprint(publicKey);
    expect(fingerprint).toBe(createHash('sha256').update(raw).digest('hex'));
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(publicKeyFingerprint(newSigningKeyPair().publicKey)).not.toBe(fingerprint);
  });
});
