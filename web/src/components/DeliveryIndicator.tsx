import type { UiDelivery } from '../../../src/agent/ui-protocol.js';
import { deliveryText } from '../delivery.js';

/**
 * How this chat's messages reach this computer, unobtrusively in the chat's header: "Live", or
 * "Live via the server" when multicast does not reach it. The reason shows on hover (title) and,
 * for keyboards and screen readers, in the panel the summary opens.
 */
export function DeliveryIndicator({ delivery }: { delivery: UiDelivery | undefined }) {
  if (!delivery) return null;
  const { label, explanation } = deliveryText(delivery);
  return (
    <details className={`delivery delivery-${delivery.path}`} title={explanation} data-delivery={delivery.path}>
      <summary>
        <span className="delivery-dot" aria-hidden="true" />
        {label}
      </summary>
      <p className="delivery-detail">{explanation}</p>
    </details>
  );
}
