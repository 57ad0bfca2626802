import { type Interface, clearScreenDown, createInterface, cursorTo, moveCursor } from 'node:readline';

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
}

const PROMPT = '> ';

export class ChatScreen {
  private readonly rl: Interface;
  private readonly tty: boolean;
  private closed = false;
  private promptText = PROMPT;

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
    this.prompt();
  }

  /** Prints a whole line above the input line. */
  show(line: string): void {
    if (this.closed) {
      this.output.write(`${line}\n`);
      return;
    }
    if (!this.tty) {
      this.output.write(`${line}\n`);
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
    this.output.write(`${line}\n${'\n'.repeat(cursorRow)}`);
    this.rl.prompt(true);
  }

  /** Counts the messages being sent in the prompt ("2 sending > "), which readline redraws at once. */
  setPending(count: number): void {
    const prompt = count > 0 ? `${count} sending ${PROMPT}` : PROMPT;
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
    const rows = Math.max(1, Math.ceil([...(this.promptText + text)].length / columns));
    moveCursor(this.output, 0, -rows);
    clearScreenDown(this.output);
  }
}
