import { useEffect, useState } from 'react';
import { BellIcon, BellOffIcon, CloseIcon } from '../icons.js';
import { askForNotifications, notificationPermission, watchNotificationPermission } from '../notifications.js';

/** Remembered per origin (this client's address): the note was seen and put away. */
const BLOCKED_NOTE_DISMISSED = 'chorus-notifications-blocked-note-dismissed';

/**
 * Notifications, in the sidebar: a button while the browser has not been asked, and a note when
 * it blocks them for this site. The browser never asks again once blocked (the button would
 * do nothing), and without the note nothing would say why no notification ever comes. The note
 * can be put away, for someone who blocked them on purpose.
 */
export function NotificationsPrompt() {
  const [permission, setPermission] = useState(notificationPermission());
  const [dismissed, setDismissed] = useState(() => localStorage.getItem(BLOCKED_NOTE_DISMISSED) !== null);
  useEffect(() => watchNotificationPermission(setPermission), []);

  if (permission === 'default') {
    return (
      <div className="sidebar-prompt">
        <button type="button" className="button button-ghost-dark button-small" onClick={() => void askForNotifications().then(setPermission)}>
          <BellIcon />
          Enable notifications
        </button>
      </div>
    );
  }
  if (permission !== 'denied' || dismissed) return null;
  return (
    <div className="sidebar-prompt sidebar-note" role="status">
      <BellOffIcon />
      <p id="notifications-blocked">Notifications are blocked for this site in the browser’s settings.</p>
      <button
        type="button"
        className="button button-ghost-dark"
        aria-label="Dismiss"
        aria-describedby="notifications-blocked"
        title="Dismiss"
        onClick={() => {
          localStorage.setItem(BLOCKED_NOTE_DISMISSED, '1');
          setDismissed(true);
        }}
      >
        <CloseIcon />
      </button>
    </div>
  );
}
