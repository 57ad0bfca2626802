import { ChorusError } from './errors.js';
import { LONE_SURROGATE } from './frames.js';
import { isBlankText } from './invisible-text.js';
import { MAX_TEXT_BYTES, MAX_TEXT_JSON_BYTES } from './limits.js';

/**
 * Why the server refuses this text (empty or blank, holding U+0000 or a lone surrogate, over
 * MAX_TEXT_BYTES of UTF-8, or over MAX_TEXT_JSON_BYTES as JSON), or undefined when it takes it.
 * The server's rule and wording (docs/protocol.md); clients check it before a text enters a
 * sender's queue. A text it takes always fits one frame: its JSON form is at most half a frame.
 */
export function messageTextProblem(text: string): ChorusError | undefined {
  const blank = blankTextProblem(text);
  if (blank) return blank;
  // PostgreSQL cannot store U+0000 in text (SQLite can): refused alike on both engines, so a
  // message is stored the same wherever it goes and never reaches a commit it would fail.
  if (text.includes('\u0000')) return new ChorusError('INVALID_FIELD', 'A message must not contain the NUL character (U+0000)', 'text');
  // The frame decoder refuses these and closes the connection (frames.ts): a client finds out here.
  if (LONE_SURROGATE.test(text)) return new ChorusError('INVALID_FIELD', 'A message must be well-formed Unicode (it holds a lone surrogate)', 'text');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_TEXT_BYTES) return textTooLarge(bytes);
  return jsonFormProblem(text);
}

/**
 * Why a text shows nothing: empty, or only white space and invisible characters
 * (invisible-text.ts), which would make a message line with a sender and nothing said.
 */
export function blankTextProblem(text: string): ChorusError | undefined {
  if (text.length === 0) return new ChorusError('INVALID_FIELD', 'A message must not be empty', 'text');
  if (isBlankText(text)) return new ChorusError('INVALID_FIELD', 'A message must not be empty: it holds only spaces or invisible characters', 'text');
  return undefined;
}

/** The refusal of a text of `bytes` bytes of UTF-8, over MAX_TEXT_BYTES (for a caller that kept only its length). */
export function textTooLarge(bytes: number): ChorusError {
  return new ChorusError('PAYLOAD_TOO_LARGE', `A message may be at most ${MAX_TEXT_BYTES / 1024} KiB of UTF-8 (this one is ${bytes} bytes)`, 'text');
}

/**
 * A text whose JSON form (what frames, history pages and the UI carry) passes
 * MAX_TEXT_JSON_BYTES: JSON writes a control character in six bytes, so a text under the UTF-8
 * limit could otherwise weigh six times that in every answer that carries it.
 */
export function jsonFormProblem(text: string): ChorusError | undefined {
  // JSON makes a byte of UTF-8 at most six (a control character): a short text needs no encoding.
  if (Buffer.byteLength(text, 'utf8') * 6 <= MAX_TEXT_JSON_BYTES) return undefined;
  const bytes = Buffer.byteLength(JSON.stringify(text), 'utf8') - 2;
  if (bytes <= MAX_TEXT_JSON_BYTES) return undefined;
  return new ChorusError(
    'PAYLOAD_TOO_LARGE',
    `A message may be at most ${MAX_TEXT_JSON_BYTES / 1024} KiB as JSON, where each control character takes 6 bytes (this one is ${bytes} bytes)`,
    'text',
  );
}
