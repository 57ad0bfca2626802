/**
 * Lines of a byte stream, with memory bounded by the longest line worth keeping. readline keeps
 * a whole line however long it is, so a file with no newline (a binary, a log without line
 * breaks) piped into `send --stdin` or `chat` would be held in memory entire before being refused
 * as too long. Here a line past `maxBytes` is dropped as it comes: only its length and its first
 * HEAD_BYTES (to say which line it was) are kept.
 *
 * A line ends at "\n" or "\r\n"; the end of the input ends the last line, if it holds anything.
 * Text is UTF-8 (a malformed sequence becomes U+FFFD, as readline would show it).
 */
export type InputLine = { text: string } | { tooLongBytes: number; head: string };

/** How much of a line past the bound is kept, to show which line it was: 32 characters at least. */
const HEAD_BYTES = 128;

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export async function* boundedLines(input: AsyncIterable<Buffer | string>, maxBytes: number): AsyncGenerator<InputLine> {
  let parts: Buffer[] = [];
  // Bytes of the current line so far, kept or (once past the bound) dropped; a "\r" that may end it is counted.
  let bytes = 0;
  let dropping = false;
  let head = '';
  let lastByte: number | undefined;
  // One byte more than the bound may be kept: the "\r" of a "\r\n" that ends a line of exactly maxBytes.
  const keepAtMost = maxBytes + 1;

  const take = (piece: Buffer) => {
    bytes += piece.length;
    if (piece.length > 0) lastByte = piece[piece.length - 1];
    if (dropping) return;
    if (bytes > keepAtMost) {
      dropping = true;
      head = headOf([...parts, piece.subarray(0, HEAD_BYTES)]);
      parts = [];
    } else parts.push(piece);
  };
  const finish = (): InputLine => {
    const line = dropping ? { tooLongBytes: lastByte === CARRIAGE_RETURN ? bytes - 1 : bytes, head } : lineOf(Buffer.concat(parts, bytes), maxBytes);
    parts = [];
    bytes = 0;
    dropping = false;
    head = '';
    lastByte = undefined;
    return line;
  };

  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    for (let end = buffer.indexOf(NEWLINE); end !== -1; end = buffer.indexOf(NEWLINE, start)) {
      take(buffer.subarray(start, end));
      yield finish();
      start = end + 1;
    }
    if (start < buffer.length) take(buffer.subarray(start));
  }
  if (bytes > 0) yield finish();
}

/** A kept line: its "\r" ending dropped, then over the bound or its text. */
function lineOf(line: Buffer, maxBytes: number): InputLine {
  const body = line.at(-1) === CARRIAGE_RETURN ? line.subarray(0, -1) : line;
  return body.length > maxBytes ? { tooLongBytes: body.length, head: headOf([body]) } : { text: body.toString('utf8') };
}

/** The text of the first HEAD_BYTES of these pieces, without a character cut in two at its end, nor the "\r" of a "\r\n". */
function headOf(pieces: Buffer[]): string {
  const start = Buffer.concat(pieces.map((piece) => piece.subarray(0, HEAD_BYTES))).subarray(0, HEAD_BYTES);
  return start.toString('utf8').replace(/\uFFFD+$/, '').replace(/\r$/, '');
}
