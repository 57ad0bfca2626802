import { printNote, reportFailure } from './output.js';

/**
 * For the commands that run until stopped (`server`, `client`, `up`): SIGINT or SIGTERM closes
 * the parts in order and exits 0 (or non-zero with one line if closing failed); a second signal
 * stops at once. `doing` says what the graceful stop waits for.
 */
export function stopOnSignals(parts: { close(): Promise<void> }[], doing = 'stopping'): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      printNote(`chorus: ${signal} again: stopping without waiting`);
      process.exit(1);
    }
    stopping = true;
    printNote(`chorus: ${signal}: ${doing}`);
    (async () => {
      for (const part of parts) await part.close();
    })().then(
      () => process.exit(0),
      (error: unknown) => process.exit(reportFailure(error)),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
