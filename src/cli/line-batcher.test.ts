import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineBatcher } from './output.js';

describe('LineBatcher', () => {
  it('writes the lines of one turn in one write, in order, and what waits at flush at once', async () => {
    const stream = new PassThrough();
    const writes: string[] = [];
    stream.on('data', (chunk: Buffer) => writes.push(chunk.toString()));
    const lines = new LineBatcher(stream);
    for (let i = 0; i < 3; i++) lines.write(`line ${i}`);
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['line 0\nline 1\nline 2\n']);
    lines.write('last');
    lines.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(['line 0\nline 1\nline 2\n', 'last\n']);
    lines.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toHaveLength(2);
  });
});
