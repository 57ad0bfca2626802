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

describe('a chat taken away (the user removed from it)', () => {
  const chat = { code: 'C', name: 'Book club', memberCount: 2, latestSeq: 0, unread: 0, readSeq: 0, createdBy: 1 };
  const other = { ...chat, code: 'D', name: 'Other' };

  it('leaves the list and the screen, and its notice offers back the failed message and the draft', () => {
    let state = reduce(failed('NOT_A_MEMBER'), { type: 'push', push: { type: 'chats', chats: [chat, other] } });
    state = reduce(state, { type: 'select', code: 'C' });
    state = reduce(state, { type: 'draft', code: 'C', text: 'and one more thing' });
    state = reduce(state, { type: 'draft', code: 'D', text: 'kept' });
    state = reduce(state, { type: 'push', push: { type: 'removed', chat: 'C', name: 'Book club', reason: 'removed' } });
    expect(state.chats.map((c) => c.code)).toEqual(['D']);
    expect(state.active).toBeNull();
    expect(state.conversations.C).toBeUndefined();
    expect(state.drafts).toEqual({ D: 'kept' });
    expect(state.notices).toEqual([{ chat: 'C', name: 'Book club', reason: 'removed', unsent: ['hello', 'and one more thing'] }]);
    expect(reduce(state, { type: 'dismissNotice', chat: 'C' }).notices).toEqual([]);
  });

  it('offers nothing back when nothing was written, and another chat open stays open', () => {
    let state = reduce(initialState, { type: 'push', push: { type: 'chats', chats: [chat, other] } });
    state = reduce(state, { type: 'select', code: 'D' });
    state = reduce(state, { type: 'draft', code: 'C', text: '   ' });
    state = reduce(state, { type: 'push', push: { type: 'removed', chat: 'C', name: 'Book club', reason: 'gone' } });
    expect(state.active).toBe('D');
    expect(state.notices).toEqual([{ chat: 'C', name: 'Book club', reason: 'gone', unsent: [] }]);
  });
});

describe('the session a login replaced, which its server could not end', () => {
  const kim = { id: 1, name: 'Kim', email: 'kim@example.test' };
  const replacedSession = { server: 'http://127.0.0.1:1', reason: 'Cannot reach the server at http://127.0.0.1:1 (connection refused).' };
  const session = (user: typeof kim | null) => ({ type: 'push' as const, push: { type: 'session' as const, user, server: 'http://127.0.0.1:2', ...(user ? { replacedSession } : {}) } });

  it('stays dismissed while the same user is logged in (the agent repeats it with every session push), and is said again after another login', () => {
    let state = reduce(initialState, session(kim));
    expect(state.session?.replacedSession).toEqual(replacedSession);
    expect(state.replacedSessionDismissed).toBe(false);
    state = reduce(state, { type: 'dismissReplacedSession' });
    state = reduce(state, session(kim));
    expect(state.replacedSessionDismissed).toBe(true);
    state = reduce(reduce(state, session(null)), session(kim));
    expect(state.replacedSessionDismissed).toBe(false);
  });
});
