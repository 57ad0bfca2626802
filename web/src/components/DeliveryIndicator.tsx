import { type KeyboardEvent, useRef } from 'react';
import type { ConnectionState, UiDelivery } from '../../../src/agent/ui-protocol.js';
import { deliveryText } from '../delivery.js';

/**
 * How this chat's messages reach this computer, unobtrusively in the chat's header: "Live",
 * "Live via the server" when multicast does not reach it, or "Offline" while the connection to
 * the server is down. The reason shows on hover (title) and, for keyboards and screen readers,
 * in the panel the summary opens (Escape closes it again).
 */
export function DeliveryIndicator({ delivery, connection }: { delivery: UiDelivery | undefined; connection: ConnectionState }) {
  const details = useRef<HTMLDetailsElement>(null);
  if (!delivery) return null;
  const { kind, label, explanation } = deliveryText(delivery, connection);
  const closeOnEscape = (event: KeyboardEvent) => {
    if (event.key !== 'Escape' || !details.current?.open) return;
    details.current.open = false;
    details.current.querySelector('summary')?.focus();
    event.stopPropagation();
  };
  return (
    <details ref={details} className={`delivery delivery-${kind}`} title={explanation} data-delivery={kind} onKeyDown={closeOnEscape}>
      <summary>
        <span className="delivery-dot" aria-hidden="true" />
        {label}
      </summary>
      <p className="delivery-detail">{explanation}</p>
    </details>
  );
}
