import { type FormEvent, type KeyboardEvent, useEffect, useLayoutEffect, useRef } from 'react';
import { isBlankText } from '../../../src/protocol/invisible-text.js';
import { MAX_TEXT_BYTES } from '../../../src/protocol/limits.js';
import { SendIcon } from '../icons.js';

const MAX_ROWS_PX = 200;
/** The size shows once a message passes this share of the limit. */
const SIZE_SHOWN_FROM = 0.8;
const utf8 = new TextEncoder();

/** How a draft stands against the server's size limit (UTF-8 bytes, as the server counts). */
export function draftSize(text: string): { bytes: number; shown: boolean; tooLong: boolean } {
  const bytes = utf8.encode(text).length;
  return { bytes, shown: bytes >= MAX_TEXT_BYTES * SIZE_SHOWN_FROM, tooLong: bytes > MAX_TEXT_BYTES };
}

const kib = (bytes: number) => (bytes / 1024).toLocaleString(undefined, { maximumFractionDigits: 1 });

/**
 * The box to write in: Enter sends, Shift+Enter starts a new line; it grows with the text. Near
 * the size limit it shows the size, and past it refuses to send and says by how much to shorten.
 */
/** Keystrokes are told to the agent at most this often: its typing policy needs no more (it says "typing" once, then refreshes every 10 s). */
const KEYSTROKE_REPORT_MS = 1000;

interface ComposerProps {
  chatName: string;
  text: string;
  onText(text: string): void;
  onSend(text: string): void;
  /** `true` for a keystroke that changed the text, `false` when the box was emptied (sending stops typing in the agent itself). */
  onTyping?(on: boolean): void;
}

export function Composer({ chatName, text, onText: setText, onSend, onTyping }: ComposerProps) {
  const box = useRef<HTMLTextAreaElement>(null);
  const lastKeystroke = useRef(Number.NEGATIVE_INFINITY);

  function edited(value: string) {
    setText(value);
    if (isBlankText(value)) {
      if (lastKeystroke.current > Number.NEGATIVE_INFINITY) onTyping?.(false);
      lastKeystroke.current = Number.NEGATIVE_INFINITY;
      return;
    }
    const now = performance.now();
    if (now - lastKeystroke.current < KEYSTROKE_REPORT_MS) return;
    lastKeystroke.current = now;
    onTyping?.(true);
  }
  const size = draftSize(text.trimEnd());

  useEffect(() => {
    // On a wide screen the box is where typing should go; on a phone that would pop the keyboard up.
    if (window.matchMedia('(min-width: 721px)').matches) box.current?.focus();
  }, [chatName]);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    el.style.height = 'auto';
    el.style.height = `${Math.min(el.scrollHeight, MAX_ROWS_PX)}px`;
  }, [text]);

  function send() {
    const message = text.trimEnd();
    // As the server refuses it: a text of spaces and invisible characters only shows nothing.
    if (isBlankText(message) || size.tooLong) return;
    onSend(message);
    lastKeystroke.current = Number.NEGATIVE_INFINITY;
    setText('');
    box.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === 'Enter' && !event.shiftKey && !event.altKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        send();
      }}
    >
      <label htmlFor="composer-input" className="visually-hidden">
        Message
      </label>
      <textarea
        ref={box}
        id="composer-input"
        rows={1}
        value={text}
        placeholder={`Message ${chatName}`}
        onChange={(e) => edited(e.target.value)}
        onKeyDown={onKeyDown}
        enterKeyHint="send"
        aria-invalid={size.tooLong}
        aria-describedby={size.shown ? 'composer-size' : undefined}
      />
      <button type="submit" className="button button-primary send-button" disabled={isBlankText(text) || size.tooLong}>
        <SendIcon />
        <span className="send-label">Send</span>
      </button>
      {size.shown ? (
        <p id="composer-size" className={`composer-size${size.tooLong ? ' composer-size-over' : ''}`} role="status">
          {size.tooLong
            ? `Too long to send: at most ${kib(MAX_TEXT_BYTES)} KiB (${MAX_TEXT_BYTES.toLocaleString()} bytes). Shorten it by ${(size.bytes - MAX_TEXT_BYTES).toLocaleString()} bytes.`
            : `${kib(size.bytes)} of ${kib(MAX_TEXT_BYTES)} KiB`}
        </p>
      ) : (
        <p className="composer-hint" aria-hidden="true">
          <kbd>Enter</kbd> to send, <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
        </p>
      )}
    </form>
  );
}
