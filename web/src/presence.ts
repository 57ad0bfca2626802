import { useEffect } from 'react';
import { AWAY_AFTER_IDLE_MS } from '../../src/protocol/limits.js';
import { link } from './agent-link.js';

/** How often idleness is checked (away comes at most this late after AWAY_AFTER_IDLE_MS). */
const IDLE_CHECK_MS = 15_000;
/** Pointer moves are many: one counts as activity at most this often. */
const ACTIVITY_THROTTLE_MS = 2000;

/**
 * This tab's presence, told to the agent: active while the window is focused and visible and
 * was used in the last AWAY_AFTER_IDLE_MS, away otherwise. The agent says the user is away only
 * when every tab is. Said on each change, and again whenever the link to the agent opens (a
 * restarted agent knows nothing of this tab).
 */
export function useTabPresence(loggedIn: boolean): void {
  useEffect(() => {
    if (!loggedIn) return;
    let lastActivity = performance.now();
    let said: 'active' | 'away' | undefined;
    const current = (): 'active' | 'away' =>
      document.visibilityState === 'visible' && document.hasFocus() && performance.now() - lastActivity < AWAY_AFTER_IDLE_MS ? 'active' : 'away';
    const say = (force = false) => {
      const state = current();
      if (state === said && !force) return;
      said = state;
      link.request('presence', { state }).catch(() => (said = undefined));
    };
    const onActivity = () => {
      const now = performance.now();
      if (now - lastActivity < ACTIVITY_THROTTLE_MS && said === 'active') return;
      lastActivity = now;
      say();
    };
    const onChange = () => say();
    const activity = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;
    for (const type of activity) window.addEventListener(type, onActivity, { passive: true });
    window.addEventListener('focus', onActivity);
    window.addEventListener('blur', onChange);
    document.addEventListener('visibilitychange', onChange);
    const check = setInterval(onChange, IDLE_CHECK_MS);
    const offState = link.onState((state) => {
      if (state === 'open') say(true);
    });
    if (link.state === 'open') say(true);
    return () => {
      for (const type of activity) window.removeEventListener(type, onActivity);
      window.removeEventListener('focus', onActivity);
      window.removeEventListener('blur', onChange);
      document.removeEventListener('visibilitychange', onChange);
      clearInterval(check);
      offState();
    };
  }, [loggedIn]);
}
