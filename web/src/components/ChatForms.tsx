import { type Dispatch, type FormEvent, type ReactNode, useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import type { UiChat } from '../../../src/agent/ui-protocol.js';
import { normalizeChatCode } from '../../../src/protocol/chat-code.js';
import { NAME_LENGTH } from '../../../src/protocol/display-names.js';
import type { ChorusError } from '../../../src/protocol/errors.js';
import { link } from '../agent-link.js';
import { BackIcon, HashIcon, JoinIcon } from '../icons.js';
import type { Action } from '../state.js';
import { CopyButton } from './CopyButton.js';
import { Field, FormError } from './Field.js';

/** "Create chat" (then its code, to share) and "Join chat" (by code). */

export function CreateChat({ dispatch }: { dispatch: Dispatch<Action> }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<{ field?: string; form?: string }>({});
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<UiChat | null>(null);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) {
      setError({ field: 'Give the chat a name.' });
      return input.current?.focus();
    }
    setBusy(true);
    try {
      const { chat } = await link.request('create', { name: name.trim() });
      dispatch({ type: 'chatAdded', chat });
      setCreated(chat);
    } catch (e) {
      const failure = e as ChorusError;
      setError(failure.field === 'name' ? { field: failure.message } : { form: failure.message });
      setBusy(false);
    }
  }

  if (created) {
    return (
      <Panel title="Chat created" dispatch={dispatch}>
        <p className="panel-lead">
          <strong>{created.name}</strong> is ready. Share its code: anyone with it can join.
        </p>
        <div className="share">
          <code className="share-code">{created.code}</code>
          <CopyButton text={created.code} label="Copy" />
        </div>
        <button type="button" className="button button-primary" autoFocus onClick={() => dispatch({ type: 'select', code: created.code })}>
          <HashIcon />
          Open chat
        </button>
      </Panel>
    );
  }

  return (
    <Panel title="Create a chat" dispatch={dispatch}>
      <p className="panel-lead">A new room. You get a code to share with the people you want in it.</p>
      <form className="panel-form" onSubmit={submit} noValidate>
        <FormError message={error.form} />
        <Field ref={input} label="Chat name" value={name} onChange={(e) => setName(e.target.value)} error={error.field} maxLength={NAME_LENGTH.chat.max} placeholder="e.g. Team room" autoComplete="off" />
        <button type="submit" className="button button-primary" disabled={busy}>
          Create
        </button>
      </form>
    </Panel>
  );
}

export function JoinChat({ dispatch }: { dispatch: Dispatch<Action> }) {
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const typed = code.trim();
    if (!typed) {
      setError('Enter the code someone shared with you.');
      return input.current?.focus();
    }
    if (!normalizeChatCode(typed)) {
      setError(`“${typed.slice(0, 32)}” is not a chat code: codes look like ABCDE-12345 (ten letters and digits).`);
      return input.current?.focus();
    }
    setBusy(true);
    try {
      const { chat } = await link.request('join', { code: typed });
      dispatch({ type: 'chatAdded', chat });
      dispatch({ type: 'select', code: chat.code });
    } catch (e) {
      const failure = e as ChorusError;
      setError(failure.code === 'CHAT_NOT_FOUND' ? `No chat has the code “${typed.slice(0, 32)}”. Check it with the person who shared it.` : failure.message);
      setBusy(false);
      input.current?.focus();
    }
  }

  return (
    <Panel title="Join a chat" dispatch={dispatch}>
      <p className="panel-lead">Enter the code someone shared with you. Dashes and case do not matter.</p>
      <form className="panel-form" onSubmit={submit} noValidate>
        <Field
          ref={input}
          label="Chat code"
          value={code}
          onChange={(e) => {
            setCode(e.target.value);
            setError(undefined);
          }}
          error={error}
          placeholder="ABCDE-12345"
          autoComplete="off"
          autoCapitalize="characters"
          spellCheck={false}
          className="field-code"
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          <JoinIcon />
          Join
        </button>
      </form>
    </Panel>
  );
}

/**
 * A create/join panel. Escape closes it wherever the focus is (not only inside it), and closing
 * it by Escape or its back button gives the focus back to the control that opened it, so a
 * keyboard user is not dropped at the top of the page.
 */
export function Panel({ title, dispatch, children }: { title: string; dispatch: Dispatch<Action>; children: ReactNode }) {
  const opener = useRef<Element | null>(null);
  if (opener.current === null) opener.current = document.activeElement;
  const closing = useRef(false);
  const close = useCallback(() => {
    closing.current = true;
    dispatch({ type: 'panel', panel: 'none' });
  }, [dispatch]);
  // In the commit that removes the panel: the opener is focusable again only then (on a phone),
  // and nothing rendered after it can take the focus first.
  useLayoutEffect(
    () => () => {
      const back = opener.current;
      if (closing.current && back instanceof HTMLElement && back.isConnected) back.focus();
    },
    [],
  );
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !e.defaultPrevented) close();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [close]);
  return (
    <section className="panel" aria-labelledby="panel-title">
      <header className="pane-header">
        <button type="button" className="button button-icon back-button" onClick={close}>
          <BackIcon />
          <span className="back-label">Chats</span>
        </button>
        <h2 id="panel-title">{title}</h2>
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}
