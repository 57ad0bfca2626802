import { describe, expect, it } from 'vitest';
import { PROGRESS_INTERVAL_MS, ProgressLine } from './progress-line.js';

function terminal(isTTY: boolean) {
  const written: string[] = [];
  let clock = 0;
  const progress = new ProgressLine({ isTTY, write: (text: string) => written.push(text) }, () => clock);
  return { written, progress, advance: (ms: number) => (clock += ms) };
}

describe('ProgressLine', () => {
  it('rewrites one line in place on a terminal, at most every interval, and erases it at the end', () => {
    const { written, progress, advance } = terminal(true);
    progress.update(() => 'sent 1');
    advance(PROGRESS_INTERVAL_MS - 1);
    progress.update(() => 'sent 2');
    advance(1);
    progress.update(() => 'sent 3');
    progress.clear();
    progress.clear();
    expect(written).toEqual(['\rsent 1\x1b[K', '\rsent 3\x1b[K', '\r\x1b[K']);
  });

  it('shows the next update at once after it was erased', () => {
    const { written, progress } = terminal(true);
    progress.update(() => 'a');
    progress.clear();
    progress.update(() => 'b');
    expect(written).toEqual(['\ra\x1b[K', '\r\x1b[K', '\rb\x1b[K']);
  });

  it('writes nothing, and builds no text, anywhere but a terminal', () => {
    const { written, progress } = terminal(false);
    let built = 0;
    progress.update(() => String(++built));
    progress.clear();
    expect(written).toEqual([]);
    expect(built).toBe(0);
  });
});
