import { type Interface, clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';
import { fitToTerminal } from './wrap.js';

/**
 * The terminal side of `chorus chat`: an input line at the bottom, and lines printed above it
 * while the user types. In a terminal, a printed line erases the prompt and what is being typed,
 * prints, and redraws them; the line the user just entered is replaced by what the chat makes of
 * it. Without a terminal (stdin or stdout piped), lines are simply read and printed, with no
 * prompt and no echo, so that a script can drive the chat.
 */
export interface ChatScreenEvents {
  /** A line entered (without its newline). */
  line(text: string): void;
  /** Ctrl-D, or the end of the input. */
  end(): void;
  /** Ctrl-C. */
  interrupt(): void;
  /** In a terminal: the line being typed changed (a key typed or deleted); '' once it is empty or entered. */
  draftChanged?(text: string): void;
}

const PROMPT = '> ';

export class ChatScreen {
  private readonly rl: Interface;
  private readonly tty: boolean;
  private closed = false;
  private promptText = PROMPT;
  private pending = 0;
  /** A line shown just above the input ("Ben is typing…"), part of the prompt so that readline redraws it. */
  private status: string | undefined;
  private draft = '';

  constructor(
    private readonly input: NodeJS.ReadStream,
    private readonly output: NodeJS.WriteStream,
    events: ChatScreenEvents,
  ) {
    this.tty = Boolean(input.isTTY && output.isTTY);
    // Without a terminal, readline gets no output: it must neither echo nor prompt.
    this.rl = createInterface({ input, output: this.tty ? output : undefined, terminal: this.tty, prompt: PROMPT, crlfDelay: Infinity });
    this.rl.on('line', (text) => {
      if (this.closed) return;
      this.eraseEnteredLine(text);
      this.prompt();
      events.line(text);
    });
    this.rl.on('close', () => {
      if (!this.closed) events.end();
    });
    // In a terminal readline turns Ctrl-C into this event; otherwise it is a signal (see the caller).
    this.rl.on('SIGINT', () => events.interrupt());
    // readline reads keys in a terminal (it emits them on the input, this listener after its own):
    // the draft as it is after each one tells when typing starts, goes on, and stops.
    if (this.tty) {
      input.on('keypress', () => {
        if (this.closed || this.rl.line === this.draft) return;
        this.draft = this.rl.line;
        events.draftChanged?.(this.draft);
      });
    }
    this.prompt();
  }

  /** Prints a whole line above the input line. */
  show(line: string): void {
    if (this.closed || !this.tty) {
      this.output.write(`${fitToTerminal(line, this.output)}\n`);
      return;
    }
    // Erase the input line (it may wrap over several rows; the cursor can be on any of them),
    // print the line where it began, then let readline draw the input below it again.
    const cursorRow = this.rl.getCursorPos().rows;
    cursorTo(this.output, 0);
    moveCursor(this.output, 0, -cursorRow);
    clearScreenDown(this.output);
    // readline redraws by first moving up as many rows as the cursor was down in the input when
    // it last drew it: that many blank rows below the printed line are what it moves back over,
    // instead of over (and erasing) the end of the printed line and whatever came before it.
    this.output.write(`${fitToTerminal(line, this.output)}\n${'\n'.repeat(cursorRow)}`);
    this.rl.prompt(true);
  }

  /** Counts the messages being sent in the prompt ("2 sending > "), which readline redraws at once. */
  setPending(count: number): void {
    this.pending = count;
    this.updatePrompt();
  }

  /**
   * A line above the input, e.g. "Ben is typing…", until replaced or cleared (undefined). Only
   * in a terminal: piped output is the chat's lines alone. Cut to the width, so it is one row.
   */
  setStatus(text: string | undefined): void {
    const columns = this.output.columns || 80;
    const chars = text === undefined ? undefined : [...text.replace(/\s+/g, ' ')];
    this.status = chars === undefined ? undefined : chars.length >= columns ? `${chars.slice(0, columns - 2).join('')}…` : chars.join('');
    this.updatePrompt();
  }

  private updatePrompt(): void {
    const input = this.pending > 0 ? `${this.pending} sending ${PROMPT}` : PROMPT;
    const prompt = this.status === undefined ? input : `${this.status}\n${input}`;
    if (prompt === this.promptText) return;
    this.promptText = prompt;
    this.rl.setPrompt(prompt);
    if (this.tty && !this.closed) this.rl.prompt(true);
  }

  /** Stops reading input; lines shown afterwards are printed plainly. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tty) {
      cursorTo(this.output, 0);
      clearScreenDown(this.output);
    }
    this.rl.close();
    // readline leaves a piped stdin paused but open; let it go so the process can end.
    this.input.unref?.();
  }

  private prompt(): void {
    if (this.tty && !this.closed) this.rl.prompt();
  }

  /** The terminal still shows "> text" above the cursor: remove it (the chat prints its own line). */
  private eraseEnteredLine(text: string): void {
    if (!this.tty) return;
    const columns = this.output.columns || 80;
    // The prompt may hold a status row above the input: each of its lines takes its own rows.
    const rows = (this.promptText + text).split('\n').reduce((sum, part) => sum + Math.max(1, Math.ceil([...part].length / columns)), 0);
    moveCursor(this.output, 0, -rows);
    clearScreenDown(this.output);
  }
}
