import type { Dispatch } from 'react';
import type { Action, RemovalNotice } from '../state.js';
import { CopyButton } from './CopyButton.js';

/**
 * Chats taken away (the user removed from them), each said once until dismissed, above both
 * panes so that it shows on a phone too. What was written there and not sent is offered back to
 * copy: a removal must not throw away a draft without a word.
 */
export function RemovalNotices({ notices, dispatch }: { notices: RemovalNotice[]; dispatch: Dispatch<Action> }) {
  return (
    <>
      {notices.map((notice) => (
        <Notice key={notice.chat} notice={notice} onDismiss={() => dispatch({ type: 'dismissNotice', chat: notice.chat })} />
      ))}
    </>
  );
}

function Notice({ notice, onDismiss }: { notice: RemovalNotice; onDismiss(): void }) {
  const unsent = notice.unsent.join('\n\n');
  const id = `notice-${notice.chat}`;
  return (
    <div className="notice" role="alert" aria-labelledby={`${id}-text`}>
      <div className="notice-body">
        <p id={`${id}-text`} className="notice-text">
          <RemovalText name={notice.name} reason={notice.reason} />
        </p>
        {unsent && (
          <>
            <p className="notice-text">Your unsent text:</p>
            <pre className="notice-unsent" tabIndex={0} aria-label="Your unsent text">
              {unsent}
            </pre>
          </>
        )}
      </div>
      <div className="notice-actions">
        {unsent && <CopyButton text={unsent} label="Copy text" className="button button-secondary button-small" />}
        <button type="button" className="button button-ghost button-small" onClick={onDismiss} aria-describedby={`${id}-text`}>
          Dismiss
        </button>
      </div>
    </div>
  );
}

/** Why the chat left the list, in the person's terms. */
function RemovalText({ name, reason }: { name: string; reason: RemovalNotice['reason'] }) {
  if (reason === 'gone') return <><strong>“{name}” no longer exists</strong> on the server.</>;
  if (reason === 'banned') return <><strong>You were removed from “{name}”</strong> by its creator.</>;
  if (reason === 'left') return <><strong>You left “{name}”</strong> on another device.</>;
  return <><strong>You are no longer a member of “{name}”.</strong> Its creator removed you, or you left it on another device.</>;
}
