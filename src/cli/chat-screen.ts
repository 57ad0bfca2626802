import { type Interface, clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';
import { MAX_TEXT_BYTES } from '../protocol/limits.js';
import { boundedLines } from './bounded-lines.js';
import { fitToTerminal } from './wrap.js';

/**
 * The terminal side of `chorus chat`: an input line at the bottom, and lines printed above it
 * while the user types. In a terminal, a printed line erases the prompt and what is being typed,
 * prints, and redraws them; the line the user just entered is replaced by what the chat makes of
 * it. Without a terminal (stdin or stdout piped), lines are simply read and printed, with no
 * prompt and no echo, so that a script can drive the chat; a piped line longer than a message
 * may be is not held, only its start and length (bounded-lines.ts).
 */
export interface ChatScreenEvents {
  /** A line entered (without its newline). */
  line(text: string): void;
  /** Without a terminal: a line longer than any message may be, of this many bytes (only its start, `head`, was kept). */
  tooLong(bytes: number, head: string): void;
  /** Ctrl-D, or the end of the input. */
  end(): void;
  /** Ctrl-C. */
  interrupt(): void;
  /** In a terminal: the line being typed changed (a key typed or deleted); '' once it is empty or entered. */
  draftChanged?(text: string): void;
}

const PROMPT = '> ';

export class ChatScreen {
  /** In a terminal (stdin and stdout both) only: the line editor. Piped input is read by readPiped. */
  private readonly rl: Interface | undefined;
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
    if (!(input.isTTY && output.isTTY)) {
      this.rl = undefined;
      void this.readPiped(events);
      return;
    }
    const rl = createInterface({ input, output, terminal: true, prompt: PROMPT, crlfDelay: Infinity });
    this.rl = rl;
    rl.on('line', (text) => {
      if (this.closed) return;
      this.eraseEnteredLine(text);
      this.prompt();
      events.line(text);
    });
    rl.on('close', () => {
      if (!this.closed) events.end();
    });
    // In a terminal readline turns Ctrl-C into this event; otherwise it is a signal (see the caller).
    rl.on('SIGINT', () => events.interrupt());
    // readline reads keys in a terminal (it emits them on the input, this listener after its own):
    // the draft as it is after each one tells when typing starts, goes on, and stops.
    input.on('keypress', () => {
      if (this.closed || rl.line === this.draft) return;
      this.draft = rl.line;
      events.draftChanged?.(this.draft);
    });
    this.prompt();
  }

  /** Without a terminal: each line of the input, then its end. */
  private async readPiped(events: ChatScreenEvents): Promise<void> {
    try {
      for await (const read of boundedLines(this.input, MAX_TEXT_BYTES)) {
        if (this.closed) return;
        if ('tooLongBytes' in read) events.tooLong(read.tooLongBytes, read.head);
        else events.line(read.text);
      }
    } catch {
      // The input failed or was destroyed: that is its end too.
    }
    if (!this.closed) events.end();
  }

  /** Prints a whole line above the input line. */
  show(line: string): void {
    const rl = this.rl;
    if (this.closed || !rl) {
      this.output.write(`${fitToTerminal(line, this.output)}\n`);
      return;
    }
    // Erase the input line (it may wrap over several rows; the cursor can be on any of them),
    // print the line where it began, then let readline draw the input below it again.
    const cursorRow = rl.getCursorPos().rows;
    cursorTo(this.output, 0);
    moveCursor(this.output, 0, -cursorRow);
    clearScreenDown(this.output);
    // readline redraws by first moving up as many rows as the cursor was down in the input when
    // it last drew it: that many blank rows below the printed line are what it moves back over,
    // instead of over (and erasing) the end of the printed line and whatever came before it.
    this.output.write(`${fitToTerminal(line, this.output)}\n${'\n'.repeat(cursorRow)}`);
    rl.prompt(true);
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
    this.rl?.setPrompt(prompt);
    if (!this.closed) this.rl?.prompt(true);
  }

  /** Stops reading input; lines shown afterwards are printed plainly. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rl) {
      cursorTo(this.output, 0);
      clearScreenDown(this.output);
    }
    this.rl?.close();
    // The input may still be open (a pipe, or a terminal readline paused): let it go so the process can end.
    this.input.unref?.();
  }

  private prompt(): void {
    if (!this.closed) this.rl?.prompt();
  }

  /** The terminal still shows "> text" above the cursor: remove it (the chat prints its own line). */
  private eraseEnteredLine(text: string): void {
    if (!this.rl) return;
    const columns = this.output.columns || 80;
    // The prompt may hold a status row above the input: each of its lines takes its own rows.
    const rows = (this.promptText + text).split('\n').reduce((sum, part) => sum + Math.max(1, Math.ceil([...part].length / columns)), 0);
    moveCursor(this.output, 0, -rows);
    clearScreenDown(this.output);
  }
}
