import type { ChatMessage } from '../../src/protocol/message.js';

/** Browser notifications for messages in chats not on screen, once the user has allowed them. */

export function notificationsSupported(): boolean {
  return typeof Notification !== 'undefined';
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

export async function askForNotifications(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported';
  return Notification.requestPermission();
}

/**
 * Calls `onChange` with the permission whenever it may have changed outside the page: the
 * browser says so (Permissions API), or the window is back from elsewhere (its settings, say).
 * Notification.permission is what is read each time, the one source `notify` goes by.
 */
export function watchNotificationPermission(onChange: (permission: NotificationPermission | 'unsupported') => void): () => void {
  const read = () => onChange(notificationPermission());
  let status: PermissionStatus | undefined;
  let stopped = false;
  navigator.permissions
    ?.query({ name: 'notifications' })
    .then((s) => {
      if (stopped) return;
      status = s;
      status.addEventListener('change', read);
    })
    .catch(() => {});
  window.addEventListener('focus', read);
  return () => {
    stopped = true;
    status?.removeEventListener('change', read);
    window.removeEventListener('focus', read);
  };
}

/** Shows one notification (text only: a notification never interprets markup); a click opens the chat. */
export function notify(message: ChatMessage, chatName: string, onOpen: () => void): void {
  if (notificationPermission() !== 'granted') return;
  const body = message.text.length > 180 ? `${message.text.slice(0, 180)}…` : message.text;
  try {
    const notification = new Notification(`${message.sender.name} in ${chatName}`, { body, tag: `chorus-${message.chat}`, icon: '/favicon.svg' });
    notification.onclick = () => {
      window.focus();
      onOpen();
      notification.close();
    };
  } catch {
    // Some browsers allow notifications only from a service worker: then there are none.
  }
}
