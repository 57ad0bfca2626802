import fc from 'fast-check';

/**
 * Edits of a byte string, as plain data so that fast-check prints a failing case readably.
 * Positions are taken modulo the length when an edit is applied, so any edit fits any input.
 */
export type Edit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'overwrite'; at: number; bytes: Uint8Array }
  | { kind: 'repeat'; at: number; count: number }
  | { kind: 'splice'; other: number; at: number; from: number };

const smallBytes = fc.uint8Array({ minLength: 1, maxLength: 64 });

/** Any one generic edit; `splice` takes its second half from another input of the pool. */
export const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff).chain((v) => fc.oneof(fc.constant(v), fc.integer({ min: 0, max: 255 }))) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extend' as const), bytes: smallBytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: smallBytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), bytes: smallBytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 128 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), other: fc.nat(), at: fc.nat(), from: fc.nat() }) },
);

/** `input` with one generic edit applied; never modifies `input`. */
export function applyEdit(input: Buffer, edit: Edit, pool: readonly Buffer[]): Buffer {
  const n = input.length;
  const pos = (at: number, size = n) => (size === 0 ? 0 : at % size);
  switch (edit.kind) {
    case 'flip': {
      if (n === 0) return input;
      const out = Buffer.from(input);
      out[pos(edit.at)]! ^= 1 << edit.bit;
      return out;
    }
    case 'set': {
      if (n === 0) return input;
      const out = Buffer.from(input);
      out[pos(edit.at)] = edit.value;
      return out;
    }
    case 'truncate':
      return input.subarray(0, pos(edit.at, n + 1));
    case 'extend':
      return Buffer.concat([input, edit.bytes]);
    case 'insert': {
      const at = pos(edit.at, n + 1);
      return Buffer.concat([input.subarray(0, at), edit.bytes, input.subarray(at)]);
    }
    case 'delete': {
      const at = pos(edit.at, n + 1);
      return Buffer.concat([input.subarray(0, at), input.subarray(at + edit.count)]);
    }
    case 'overwrite': {
      if (n === 0) return input;
      const out = Buffer.from(input);
      Buffer.from(edit.bytes).copy(out, pos(edit.at));
      return out;
    }
    case 'repeat': {
      const at = pos(edit.at, n + 1);
      const slice = input.subarray(at, at + edit.count);
      return Buffer.concat([input.subarray(0, at), slice, slice, input.subarray(at + slice.length)]);
    }
    case 'splice': {
      const other = pool.length > 0 ? pool[edit.other % pool.length]! : input;
      return Buffer.concat([input.subarray(0, pos(edit.at, n + 1)), other.subarray(pos(edit.from, other.length + 1))]);
    }
  }
}

/** Random bytes: short, long, and anything in between. */
export function randomBytesArb(maxLength: number): fc.Arbitrary<Buffer> {
  return fc.uint8Array({ maxLength, size: 'max' }).map((a) => Buffer.from(a));
}
