/**
 * The little of ASN.1 DER (ITU-T X.690) an X.509 certificate needs, encode-only. Each function
 * returns one complete TLV (tag, length, value). DER allows one encoding per value, and these
 * produce it: minimal lengths, minimal two's-complement integers, sorted nothing (no SET OF
 * with more than one element is ever built here).
 */

const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Tag, then the length (short form below 128, else 0x80 | byte count, big-endian), then the value. */
export function tlv(tag: number, value: Uint8Array): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff) throw new RangeError(`DER: tag ${tag} is not a single-byte tag`);
  return Buffer.concat([Buffer.of(tag), encodeLength(value.length), value]);
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  if (bytes.length > 4) throw new RangeError('DER: value too long');
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(items));
}

/** A SET holding one element (a RelativeDistinguishedName with one attribute). */
export function setOf(item: Uint8Array): Buffer {
  return tlv(TAG.set, item);
}

export function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.of(value ? 0xff : 0x00));
}

/** A non-negative INTEGER from a number or from big-endian unsigned bytes (e.g. a serial number). */
export function integer(value: number | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`DER: ${value} is not a non-negative safe integer`);
    const hex = value.toString(16);
    bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  } else {
    bytes = Buffer.from(value);
  }
  // Minimal: no leading zero bytes, except one that keeps the sign bit clear.
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.of(0);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.of(0), bytes]);
  return tlv(TAG.integer, bytes);
}

/** An OBJECT IDENTIFIER from its dotted form, e.g. "1.2.840.10045.4.3.2". */
export function oid(dotted: string): Buffer {
  if (!/^[0-2](\.\d+)+$/.test(dotted)) throw new RangeError(`DER: "${dotted}" is not a dotted OID`);
  const arcs = dotted.split('.').map(Number);
  const [first, second, ...rest] = arcs as [number, number, ...number[]];
  if (first < 2 && second > 39) throw new RangeError(`DER: "${dotted}": the second arc must be below 40`);
  const out: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    if (!Number.isSafeInteger(arc)) throw new RangeError(`DER: "${dotted}": arc too large`);
    // Base 128, most significant group first, every byte but the last with its top bit set.
    const groups: number[] = [arc % 128];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n % 128) | 0x80);
    out.push(...groups);
  }
  return tlv(TAG.oid, Buffer.from(out));
}

export function utf8String(text: string): Buffer {
  return tlv(TAG.utf8String, Buffer.from(text, 'utf8'));
}

export function ia5String(text: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError('DER: an IA5String holds ASCII only');
  return tlv(TAG.ia5String, Buffer.from(text, 'ascii'));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(TAG.octetString, bytes);
}

/** A BIT STRING of whole bytes, or with `unusedBits` (0..7) low bits of the last byte unused. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (unusedBits > 0 && bytes.length === 0)) {
    throw new RangeError('DER: unused bits must be 0..7, and 0 for an empty bit string');
  }
  return tlv(TAG.bitString, Buffer.concat([Buffer.of(unusedBits), bytes]));
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5): UTCTime "YYMMDDHHMMSSZ" for the years 1950 to 2049,
 * GeneralizedTime "YYYYMMDDHHMMSSZ" otherwise; whole seconds, always UTC.
 */
export function time(date: Date): Buffer {
  const ms = date.getTime();
  if (Number.isNaN(ms)) throw new RangeError('DER: invalid date');
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError('DER: year out of range');
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return tlv(TAG.utcTime, Buffer.from(`${pad(year % 100)}${rest}`, 'ascii'));
  return tlv(TAG.generalizedTime, Buffer.from(`${pad(year, 4)}${rest}`, 'ascii'));
}

/** [n] EXPLICIT: the whole inner TLV wrapped in a constructed context-specific tag. */
export function explicit(n: number, inner: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError('DER: context tag number out of range');
  return tlv(0xa0 | n, inner);
}

/** [n] IMPLICIT over a primitive value: the value's bytes under a context-specific tag. */
export function implicitPrimitive(n: number, value: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError('DER: context tag number out of range');
  return tlv(0x80 | n, value);
}
