import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type InputLine, boundedLines } from './bounded-lines.js';

async function linesOf(chunks: (string | Buffer)[], maxBytes: number): Promise<InputLine[]> {
  const lines: InputLine[] = [];
  for await (const line of boundedLines(Readable.from(chunks, { objectMode: true }), maxBytes)) lines.push(line);
  return lines;
}

describe('boundedLines', () => {
  it('splits on \\n and \\r\\n wherever the chunks break, keeps empty lines, and ends the last line at the end of input', async () => {
    expect(await linesOf(['one\ntw', 'o\r', '\n\nthr', 'ee'], 10)).toEqual([{ text: 'one' }, { text: 'two' }, { text: '' }, { text: 'three' }]);
    expect(await linesOf(['one\n'], 10)).toEqual([{ text: 'one' }]);
    expect(await linesOf([], 10)).toEqual([]);
  });

  it('keeps the start of a line past the bound, to say which it was, no character cut in two', async () => {
    const line = '€'.repeat(100);
    const [first] = await linesOf([`${line}\n`], 200);
    // 128 bytes hold 42 whole euro signs (3 bytes each) and two bytes of the next.
    expect(first).toEqual({ tooLongBytes: 300, head: '€'.repeat(42) });
    const [chunked] = await linesOf([...Buffer.from(`${line}\n`)].map((byte) => Buffer.from([byte])), 200);
    expect(chunked).toEqual({ tooLongBytes: 300, head: '€'.repeat(42) });
  });

  it('decodes UTF-8 split across chunks', async () => {
    const text = Buffer.from('añ€😀\n', 'utf8');
    const chunks = [...text].map((byte) => Buffer.from([byte]));
    expect(await linesOf(chunks, 20)).toEqual([{ text: 'añ€😀' }]);
  });

  it('keeps a line of exactly the bound, with or without \\r; past it, only the length, its \\r not counted', async () => {
    expect(await linesOf(['abcd\nabcd\r\nabcde\nabcde\r\nok\n'], 4)).toEqual([
      { text: 'abcd' },
      { text: 'abcd' },
      { tooLongBytes: 5, head: 'abcde' },
      { tooLongBytes: 5, head: 'abcde' },
      { text: 'ok' },
    ]);
  });

  it('holds no more than the bound of a line with no end: its bytes are dropped as they come and counted', async () => {
    // One 1 MiB buffer given 128 times: the source itself takes no memory, so any growth is the line held.
    const megabyte = Buffer.alloc(1 << 20, 0x61);
    const start = process.memoryUsage().rss;
    let grown = 0;
    async function* endless() {
      for (let i = 0; i < 128; i++) {
        grown = Math.max(grown, process.memoryUsage().rss - start);
        yield megabyte;
      }
      yield Buffer.from('\nnext\n');
    }
    const lines: InputLine[] = [];
    for await (const line of boundedLines(endless(), 16 * 1024)) {
      grown = Math.max(grown, process.memoryUsage().rss - start);
      lines.push(line);
    }
    expect(lines).toEqual([{ tooLongBytes: 128 << 20, head: 'a'.repeat(128) }, { text: 'next' }]);
    // Holding the line (as readline does) would grow by 128 MiB or more.
    expect(grown).toBeLessThan(48 << 20);
  });
});
