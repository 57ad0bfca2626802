import { type FormEvent, type KeyboardEvent, useEffect, useLayoutEffect, useRef } from 'react';
import { SendIcon } from '../icons.js';

const MAX_ROWS_PX = 200;

/** The box to write in: Enter sends, Shift+Enter starts a new line; it grows with the text. */
export function Composer({ chatName, text, onText: setText, onSend }: { chatName: string; text: string; onText(text: string): void; onSend(text: string): void }) {
  const box = useRef<HTMLTextAreaElement>(null);

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
    if (message.trim() === '') return;
    onSend(message);
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
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        enterKeyHint="send"
      />
      <button type="submit" className="button button-primary send-button" disabled={text.trim() === ''}>
        <SendIcon />
        <span className="send-label">Send</span>
      </button>
      <p className="composer-hint" aria-hidden="true">
        <kbd>Enter</kbd> to send, <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line
      </p>
    </form>
  );
}
