import { describe, expect, it } from 'vitest';
import { AWAY_AFTER_IDLE_MS } from '../protocol/limits.js';
import { FakeClock } from './clock.fake.js';
import { AwayWhenIdle } from './away.js';

describe('AwayWhenIdle', () => {
  it('says online at the first activity, away after the idle time without any, online again at the next', () => {
    const clock = new FakeClock();
    const said: string[] = [];
    const presence = new AwayWhenIdle({ clock, set: (state) => said.push(state) });
    presence.active();
    clock.advance(AWAY_AFTER_IDLE_MS - 1000);
    presence.active();
    clock.advance(AWAY_AFTER_IDLE_MS - 1);
    expect(said).toEqual(['online']);
    clock.advance(1);
    expect(said).toEqual(['online', 'away']);
    presence.active();
    presence.active();
    expect(said).toEqual(['online', 'away', 'online']);
  });

  it('away() says away at once (a hidden window), and the idle timer no longer runs', () => {
    const clock = new FakeClock();
    const said: string[] = [];
    const presence = new AwayWhenIdle({ clock, set: (state) => said.push(state) });
    presence.active();
    presence.away();
    clock.advance(AWAY_AFTER_IDLE_MS * 2);
    expect(said).toEqual(['online', 'away']);
  });
});
