import type { UiDelivery } from '../../src/agent/ui-protocol.js';

/** What the chat header says about how a chat's messages reach this computer. */
export interface DeliveryText {
  /** Short, in the header: "Live" or "Live via the server". */
  label: string;
  /** The sentence behind it, on hover and in the details panel. */
  explanation: string;
}

export function deliveryText(delivery: UiDelivery): DeliveryText {
  if (delivery.path === 'multicast') {
    return { label: 'Live', explanation: 'Messages arrive live by multicast, straight from the local network.' };
  }
  const reason = delivery.reason.trim().replace(/\.$/, '');
  return {
    label: 'Live via the server',
    explanation:
      `Multicast does not reach this computer${reason ? ` (${reason})` : ''}, so the server sends this chat's messages over its connection instead. ` +
      'Nothing is missed. "chorus doctor" in a terminal says why, and what to try.',
  };
}
