import { describe, expect, it } from 'vitest';
import { encodeFrame } from './frames.js';
import { MAX_CHAT_INPUT_LENGTH, MAX_CLIENT_MSG_ID_LENGTH, MAX_TEXT_BYTES } from './limits.js';
import { messageTextProblem } from './message-text.js';

describe('messageTextProblem', () => {
  it('takes any non-empty text up to the limit, counted in UTF-8 bytes', () => {
    expect(messageTextProblem('hello')).toBeUndefined();
    expect(messageTextProblem('é'.repeat(MAX_TEXT_BYTES / 2))).toBeUndefined();
  });

  it('refuses empty text and text over the limit, naming the field', () => {
    expect(messageTextProblem('')).toMatchObject({ code: 'INVALID_FIELD', field: 'text' });
    expect(messageTextProblem('é'.repeat(MAX_TEXT_BYTES / 2 + 1))).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', field: 'text' });
  });

  it('refuses a text under the limit that no frame could carry, and only such a text', () => {
    const controls = '\u0001'.repeat(MAX_TEXT_BYTES);
    expect(messageTextProblem(controls)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(() => encodeFrame({ t: 'send', id: 'x'.repeat(MAX_CLIENT_MSG_ID_LENGTH), chat: 'C'.repeat(MAX_CHAT_INPUT_LENGTH), text: controls })).toThrow();
    const fits = '\u0001'.repeat(1000);
    expect(messageTextProblem(fits)).toBeUndefined();
    expect(() => encodeFrame({ t: 'send', id: 'x'.repeat(MAX_CLIENT_MSG_ID_LENGTH), chat: 'C'.repeat(MAX_CHAT_INPUT_LENGTH), text: fits })).not.toThrow();
  });
});
