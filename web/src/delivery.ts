import type { ConnectionState, UiDelivery } from '../../src/agent/ui-protocol.js';

/** What the chat header says about how a chat's messages reach this computer. */
export interface DeliveryText {
  /** Which of the three it is (the indicator's colour). */
  kind: UiDelivery['path'] | 'offline';
  /** Short, in the header: "Live", "Live via the server", or "Offline". */
  label: string;
  /** The sentence behind it, on hover and in the details panel. */
  explanation: string;
}

/**
 * The path is the receiver's last verdict, kept while the connection to the server is down: then
 * the header says Offline, as the banner above it says the connection is lost, and never Live.
 */
export function deliveryText(delivery: UiDelivery, connection: ConnectionState): DeliveryText {
  if (connection !== 'connected') {
    return {
      kind: 'offline',
      label: 'Offline',
      explanation: 'Not connected to the server just now: messages may not arrive until the Chorus client has reconnected, which it keeps trying.',
    };
  }
  if (delivery.path === 'multicast') {
    return { kind: 'multicast', label: 'Live', explanation: 'Messages arrive live by multicast, straight from the local network.' };
  }
  const reason = delivery.reason.trim().replace(/\.$/, '');
  return {
    kind: 'server',
    label: 'Live via the server',
    explanation:
      `Multicast does not reach this computer${reason ? ` (${reason})` : ''}, so the server sends this chat's messages over its connection instead. ` +
      'Nothing is missed. "chorus doctor" in a terminal says why, and what to try.',
  };
}
