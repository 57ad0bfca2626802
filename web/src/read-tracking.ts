import { type RefObject, useEffect, useRef } from 'react';
import { link } from './agent-link.js';

/** At most one read request per this interval (the agent and the server coalesce further). */
export const READ_REPORT_MS = 1000;
/** A message counts as on screen when this share of it is in view (or it fills half the view). */
const SHOWN_RATIO = 0.5;

/** The window is where the person is looking: focused and visible. */
export function windowAttended(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

/**
 * Moves the chat's read position as its messages are on screen in a focused, visible window:
 * an IntersectionObserver on every message in `scroller` keeps which are in view; the highest
 * of them is reported when the window is attended, at most once per READ_REPORT_MS. A message
 * seen in a background tab is not read until the person comes back to it.
 */
export function useReadPosition(code: string, scroller: RefObject<HTMLElement | null>, ready: boolean): void {
  const inView = useRef(new Set<number>());

  useEffect(() => {
    const root = scroller.current;
    if (!root || !ready) return;
    let sent = 0;
    let lastSentAt = Number.NEGATIVE_INFINITY;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const visible = inView.current;
    visible.clear();

    const send = () => {
      timer = undefined;
      if (!windowAttended() || visible.size === 0) return;
      const seq = Math.max(...visible);
      if (seq <= sent) return;
      sent = seq;
      lastSentAt = performance.now();
      link.request('read', { code, seq }).catch(() => (sent = 0));
    };
    const schedule = () => {
      if (timer || !windowAttended() || visible.size === 0 || Math.max(...visible) <= sent) return;
      timer = setTimeout(send, Math.max(0, lastSentAt + READ_REPORT_MS - performance.now()));
    };

    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const seq = Number((entry.target as HTMLElement).dataset.seq);
          const fillsView = entry.rootBounds !== null && entry.intersectionRect.height >= entry.rootBounds.height * SHOWN_RATIO;
          if (entry.isIntersecting && (entry.intersectionRatio >= SHOWN_RATIO || fillsView)) visible.add(seq);
          else visible.delete(seq);
        }
        schedule();
      },
      { root, threshold: [0, SHOWN_RATIO, 1] },
    );
    const observeAll = () => {
      for (const node of root.querySelectorAll<HTMLElement>('li[data-seq]')) observer.observe(node);
    };
    observeAll();
    // New messages (and older pages) are added to the list: observe them as they come.
    const mutations = new MutationObserver(observeAll);
    mutations.observe(root, { childList: true, subtree: true });
    document.addEventListener('visibilitychange', schedule);
    window.addEventListener('focus', schedule);
    return () => {
      clearTimeout(timer);
      observer.disconnect();
      mutations.disconnect();
      document.removeEventListener('visibilitychange', schedule);
      window.removeEventListener('focus', schedule);
    };
  }, [code, scroller, ready]);
}
