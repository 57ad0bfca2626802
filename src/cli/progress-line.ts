/** How often a progress line may be rewritten: often enough to look alive, rarely enough to cost nothing. */
export const PROGRESS_INTERVAL_MS = 250;

/** Where a progress line goes: stderr, in practice; only a terminal shows it. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * One line of progress on a terminal, rewritten in place (carriage return, then clear to the end
 * of the line) at most every PROGRESS_INTERVAL_MS, and erased when the work is done so that the
 * result follows on a clean screen. Anywhere but a terminal it writes nothing: a pipe or a log
 * file would only collect the rewrites.
 */
export class ProgressLine {
  private lastShownAt = -Infinity;
  private shown = false;

  constructor(
    private readonly stream: ProgressStream,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Shows `text()` unless the line was rewritten less than PROGRESS_INTERVAL_MS ago (`text` is not called then). */
  update(text: () => string): void {
    if (!this.stream.isTTY) return;
    const now = this.now();
    if (now - this.lastShownAt < PROGRESS_INTERVAL_MS) return;
    this.lastShownAt = now;
    this.stream.write(`\r${text()}\x1b[K`);
    this.shown = true;
  }

  /** Erases the line, if one is shown. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
    this.lastShownAt = -Infinity;
  }
}
