import { describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/protocol/errors.js';
import { type State, initialState, reduce } from './state.js';

/** A state with one open conversation and one message being sent in it. */
function sending(): State {
  let state = reduce(initialState, { type: 'openStarted', code: 'C' });
  state = reduce(state, { type: 'opened', code: 'C', messages: [] });
  state = reduce(state, { type: 'sending', code: 'C', clientMsgId: 'm1', text: 'hello' });
  return state;
}

const failed = (code: ErrorCode) =>
  reduce(sending(), { type: 'push', push: { type: 'sendFailed', chat: 'C', clientMsgId: 'm1', error: { code, message: `refused: ${code}` } } });

describe('a message that failed to send', () => {
  it('may be retried when the failure can pass (the server away, a rate limit)', () => {
    for (const code of ['UNREACHABLE', 'LINK_LOST', 'RATE_LIMITED', 'INTERNAL'] as const) {
      const [pending] = failed(code).conversations.C!.pending;
      expect(pending).toMatchObject({ state: 'failed', error: `refused: ${code}`, retryable: true });
    }
  });

  it('is not offered a retry when the text itself was refused', () => {
    for (const code of ['PAYLOAD_TOO_LARGE', 'INVALID_FIELD'] as const) {
      expect(failed(code).conversations.C!.pending[0]).toMatchObject({ state: 'failed', retryable: false });
    }
  });
});
