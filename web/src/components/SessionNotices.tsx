import type { UiReplacedSession, UiSessionNotEnded } from '../../../src/agent/ui-protocol.js';
import { fullTime } from '../format.js';

/**
 * Sessions the server could not end, said plainly above both panes: a logout that did not
 * happen (the session stays valid on the server, so this computer keeps it, and the person
 * chooses: try again, or log out here only), and a session the last login replaced.
 */

export function LogoutNotice({ notEnded, busy, onRetry, onForget }: { notEnded: UiSessionNotEnded; busy: boolean; onRetry(): void; onForget(): void }) {
  return (
    <div className="notice" role="alert" aria-labelledby="logout-notice-text">
      <div className="notice-body">
        <p id="logout-notice-text" className="notice-text">
          <strong>You are still logged in:</strong> the server could not end your session. {notEnded.reason}
        </p>
        <p className="notice-text">
          It stays valid there {validUntil(notEnded.expiresAt)}, so this computer keeps it: logging out again ends it once the server answers. “Log out
          here only” forgets it on this computer all the same.
        </p>
      </div>
      <div className="notice-actions">
        <button type="button" className="button button-secondary button-small" disabled={busy} onClick={onRetry}>
          Try again
        </button>
        <button type="button" className="button button-ghost button-small" disabled={busy} onClick={onForget}>
          Log out here only
        </button>
      </div>
    </div>
  );
}

export function ReplacedSessionNotice({ replaced, onDismiss }: { replaced: UiReplacedSession; onDismiss(): void }) {
  const whose = replaced.user ? `${replaced.user.name} <${replaced.user.email}> at ${replaced.server}` : `at ${replaced.server}`;
  return (
    <div className="notice" role="status" aria-labelledby="replaced-session-text">
      <div className="notice-body">
        <p id="replaced-session-text" className="notice-text">
          <strong>The session this profile held before ({whose}) could not be ended.</strong> {replaced.reason} It stays valid on that server{' '}
          {validUntil(replaced.expiresAt)}.
        </p>
      </div>
      <div className="notice-actions">
        <button type="button" className="button button-ghost button-small" onClick={onDismiss} aria-describedby="replaced-session-text">
          Dismiss
        </button>
      </div>
    </div>
  );
}

function validUntil(expiresAt: string | undefined): string {
  return expiresAt ? `until ${fullTime(expiresAt)}` : 'until it expires';
}
