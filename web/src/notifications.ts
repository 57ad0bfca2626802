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
