import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CLI_MAIN, childEnv, ROOT } from './cli.js';

/**
 * A real pseudo-terminal of a chosen size, made by tmux, running a `chorus` command as a person
 * would see it: keys go in with send-keys, the screen comes back with capture-pane (what is
 * visible, not the bytes written, so redraw bugs that erase lines show up as missing lines).
 */
export class Terminal {
  private readonly socket = `chorus-test-${process.pid}-${randomBytes(4).toString('hex')}`;

  private constructor(readonly columns: number, readonly rows: number) {}

  /**
   * Starts `chorus ARGS` in a new terminal of `columns` × `rows`, its stdin the terminal or, with
   * `stdinFile`, that file. With `keepScreen`, the terminal stays open after the command ends,
   * showing its last screen (tmux blanks the screen of a pane whose command has ended).
   */
  static start(args: string[], { columns, rows = 40, stdinFile, keepScreen }: { columns: number; rows?: number; stdinFile?: string; keepScreen?: boolean }): Terminal {
    const terminal = new Terminal(columns, rows);
    const env = Object.entries(childEnv({ TERM: 'xterm-256color' }))
      .filter(([key]) => key.startsWith('CHORUS_') || ['PATH', 'HOME', 'TZ', 'NO_COLOR', 'TERM', 'LANG'].includes(key))
      .map(([key, value]) => `${key}=${shellQuote(value ?? '')}`);
    const command = [
      'env',
      '-i',
      ...env,
      shellQuote(process.execPath),
      '--import',
      'tsx',
      shellQuote(CLI_MAIN),
      ...args.map(shellQuote),
      ...(stdinFile ? ['<', shellQuote(stdinFile)] : []),
      ...(keepScreen ? ['; sleep 600'] : []),
    ].join(' ');
    // remain-on-exit keeps the last screen readable after the command ends.
    terminal.tmux('-f', '/dev/null', 'new-session', '-d', '-x', String(columns), '-y', String(rows), '-c', ROOT, command);
    terminal.tmux('set-option', '-g', 'remain-on-exit', 'on');
    return terminal;
  }

  /** Types `text` literally (no key names), without Enter. */
  type(text: string): void {
    this.tmux('send-keys', '-l', text);
  }

  press(...keys: string[]): void {
    this.tmux('send-keys', ...keys);
  }

  /** The visible screen, one string per row, trailing spaces removed. */
  screen(): string[] {
    return this.tmux('capture-pane', '-p').split('\n').map((row) => row.trimEnd());
  }

  /** The screen's rows joined back into logical text: wrapped rows are joined (-J). */
  joinedScreen(): string {
    return this.tmux('capture-pane', '-p', '-J');
  }

  async waitFor(found: (screen: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = this.joinedScreen();
      if (found(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`terminal ${this.columns} columns: timed out waiting for ${what}; screen:\n${this.screen().join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Ends the tmux server of this terminal and the command in it. */
  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // already gone
    }
  }

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
