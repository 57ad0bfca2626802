import { describe, expect, it } from 'vitest';
import * as der from './der.js';

const hex = (b: Buffer) => b.toString('hex');

describe('DER encoding', () => {
  it('encodes lengths in short form below 128 and in long form from 128', () => {
    expect(hex(der.octetString(Buffer.alloc(0)))).toBe('0400');
    expect(hex(der.octetString(Buffer.alloc(127))).slice(0, 4)).toBe('047f');
    expect(hex(der.octetString(Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(der.octetString(Buffer.alloc(200))).slice(0, 6)).toBe('0481c8');
    expect(hex(der.octetString(Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
    expect(hex(der.octetString(Buffer.alloc(70_000))).slice(0, 10)).toBe('0483011170');
    expect(der.octetString(Buffer.alloc(300))).toHaveLength(4 + 300);
  });

  it('encodes integers minimally, with a leading zero only to keep them positive', () => {
    expect(hex(der.integer(0))).toBe('020100');
    expect(hex(der.integer(2))).toBe('020102');
    expect(hex(der.integer(127))).toBe('02017f');
    expect(hex(der.integer(128))).toBe('02020080');
    expect(hex(der.integer(256))).toBe('02020100');
    expect(hex(der.integer(65535))).toBe('020300ffff');
    expect(hex(der.integer(Buffer.from('0000ff', 'hex')))).toBe('020200ff');
    expect(hex(der.integer(Buffer.from('00007f', 'hex')))).toBe('02017f');
    expect(hex(der.integer(Buffer.alloc(0)))).toBe('020100');
    expect(() => der.integer(-1)).toThrow(RangeError);
    expect(() => der.integer(1.5)).toThrow(RangeError);
  });

  it('encodes object identifiers in base 128', () => {
    expect(hex(der.oid('1.2.840.113549'))).toBe('06062a864886f70d');
    expect(hex(der.oid('2.5.4.3'))).toBe('0603550403');
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(der.oid('1.3.6.1.5.5.7.3.1'))).toBe('06082b06010505070301');
    expect(hex(der.oid('2.999.3'))).toBe('0603883703');
    expect(() => der.oid('1.40')).toThrow(RangeError);
    expect(() => der.oid('3.1')).toThrow(RangeError);
    expect(() => der.oid('1')).toThrow(RangeError);
  });

  it('encodes strings, booleans and bit strings', () => {
    expect(hex(der.utf8String('chorus'))).toBe('0c0663686f727573');
    expect(hex(der.utf8String('é'))).toBe('0c02c3a9');
    expect(hex(der.ia5String('a.b'))).toBe('1603612e62');
    expect(() => der.ia5String('é')).toThrow(RangeError);
    expect(hex(der.boolean(true))).toBe('0101ff');
    expect(hex(der.boolean(false))).toBe('010100');
    expect(hex(der.bitString(Buffer.of(0x80), 7))).toBe('03020780');
    expect(hex(der.bitString(Buffer.of(1, 2)))).toBe('0303000102');
    expect(() => der.bitString(Buffer.alloc(0), 1)).toThrow(RangeError);
    expect(() => der.bitString(Buffer.of(1), 8)).toThrow(RangeError);
  });

  it('writes UTCTime for 1950..2049 and GeneralizedTime otherwise, in UTC, whole seconds', () => {
    expect(der.time(new Date('2026-11-24T10:31:05.999Z')).toString('latin1')).toBe('\x17\x0d261124103105Z');
    expect(der.time(new Date('1950-01-01T00:00:00Z')).toString('latin1')).toBe('\x17\x0d500101000000Z');
    expect(der.time(new Date('2049-12-31T23:59:59Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(der.time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
    expect(der.time(new Date('1949-12-31T23:59:59Z')).toString('latin1')).toBe('\x18\x0f19491231235959Z');
    expect(() => der.time(new Date('nonsense'))).toThrow(RangeError);
  });

  it('nests: sequences, sets, explicit and implicit context tags', () => {
    expect(hex(der.sequence())).toBe('3000');
    expect(hex(der.sequence(der.integer(1), der.boolean(true)))).toBe('30060201010101ff');
    expect(hex(der.setOf(der.integer(5)))).toBe('3103020105');
    expect(hex(der.explicit(0, der.integer(2)))).toBe('a003020102');
    expect(hex(der.explicit(3, der.sequence()))).toBe('a3023000');
    expect(hex(der.implicitPrimitive(7, Buffer.of(127, 0, 0, 1)))).toBe('87047f000001');
    expect(hex(der.implicitPrimitive(2, Buffer.from('localhost')))).toBe('82096c6f63616c686f7374');
    expect(() => der.explicit(31, Buffer.alloc(0))).toThrow(RangeError);
  });
});
