import { AWAY_AFTER_IDLE_MS } from '../protocol/limits.js';
import { type Clock, type Timer, systemClock } from './clock.js';

export interface AwayWhenIdleOptions {
  /** Says the client's state (Sender.presence, which says each change once). */
  set(state: 'online' | 'away'): void;
  clock?: Clock;
  idleMs?: number;
}

/**
 * A client's own presence from its user's activity: online while in use, away after
 * AWAY_AFTER_IDLE_MS without any (docs/protocol.md, Presence). `active()` on every keystroke,
 * focus or click; the first call says online. Offline is the server's to say, when the
 * connection is gone.
 */
export class AwayWhenIdle {
  private readonly clock: Clock;
  private idle?: Timer;
  private state: 'online' | 'away' | undefined;

  constructor(private readonly options: AwayWhenIdleOptions) {
    this.clock = options.clock ?? systemClock;
  }

  active(): void {
    this.say('online');
    this.idle?.cancel();
    this.idle = this.clock.after(this.options.idleMs ?? AWAY_AFTER_IDLE_MS, () => this.say('away'), { weak: true });
  }

  /** Hidden or minimised: away now, until the next activity. */
  away(): void {
    this.idle?.cancel();
    this.idle = undefined;
    this.say('away');
  }

  close(): void {
    this.idle?.cancel();
  }

  private say(state: 'online' | 'away'): void {
    if (this.state === state) return;
    this.state = state;
    this.options.set(state);
  }
}
