import { ChorusError } from './errors.js';
import { MAX_CHAT_INPUT_LENGTH, MAX_CLIENT_MSG_ID_LENGTH, MAX_FRAME_BYTES, MAX_TEXT_BYTES } from './limits.js';

/** A send frame's JSON besides the text: `{"t":"send","id":…,"chat":…,"text":}` with the longest id and chat. */
const FRAME_OVERHEAD_BYTES = 64 + MAX_CLIENT_MSG_ID_LENGTH + MAX_CHAT_INPUT_LENGTH;

/**
 * Why the server would refuse this text, or undefined when it would take it. Checked before
 * sending, so that a text that cannot be sent never enters the Sender's queue: a frame over
 * MAX_FRAME_BYTES (a text full of control characters, escaped six bytes each) cannot even be
 * encoded. The rules and wording are the server's (docs/protocol.md).
 */
export function messageTextProblem(text: string): ChorusError | undefined {
  if (text.length === 0) return new ChorusError('INVALID_FIELD', 'A message must not be empty', 'text');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_TEXT_BYTES) {
    return new ChorusError('PAYLOAD_TOO_LARGE', `A message may be at most ${MAX_TEXT_BYTES / 1024} KiB of UTF-8 (this one is ${bytes} bytes)`, 'text');
  }
  if (Buffer.byteLength(JSON.stringify(text), 'utf8') + FRAME_OVERHEAD_BYTES > MAX_FRAME_BYTES) {
    return new ChorusError('PAYLOAD_TOO_LARGE', 'A message with this many control characters does not fit in one frame', 'text');
  }
  return undefined;
}
