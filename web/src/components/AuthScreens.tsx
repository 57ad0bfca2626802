import { type FormEvent, type ReactNode, useEffect, useRef, useState } from 'react';
import { NAME_LENGTH, nameProblem, normalizeName } from '../../../src/protocol/display-names.js';
import type { ChorusError } from '../../../src/protocol/errors.js';
import { link } from '../agent-link.js';
import { LogoMark } from '../icons.js';
import { Field, FormError } from './Field.js';

/**
 * Register and log in: the original app's two screens, with its labels, but for the verbs: a
 * button says what it does ("Log in", "Log out"), where the original had the noun ("Login").
 */

type Errors = Partial<Record<'name' | 'email' | 'password' | 'confirm' | 'form', string>>;

const MIN_PASSWORD = 8;

/**
 * The server's password rule (src/protocol/password-rule.ts), loaded only when a form is sent:
 * its word lists are over a megabyte, which the login screen need not wait for.
 */
async function newPasswordProblem(password: string, owner: { name: string; email: string }): Promise<string | undefined> {
  const { passwordProblem } = await import('../../../src/protocol/password-rule.js');
  const problem = passwordProblem(password, owner);
  return problem && `${problem.message}.`;
}

export function AuthScreens({ server, notice, firstTime = false, loginEmail }: { server: string; notice?: string; firstTime?: boolean; loginEmail?: string }) {
  // A client started for an account (--email, up --demo) logs into it; otherwise someone who
  // never logged in with this profile most likely has no account yet.
  const [screen, setScreen] = useState<'login' | 'register'>(firstTime && !loginEmail ? 'register' : 'login');
  const [email, setEmail] = useState(loginEmail ?? '');
  return (
    <main className="auth">
      <div className="auth-card">
        <div className="auth-brand">
          <LogoMark />
          <span>Chorus</span>
        </div>
        {screen === 'login' ? (
          <LoginForm email={email} onEmail={setEmail} notice={notice} onSwitch={() => setScreen('register')} />
        ) : (
          <RegisterForm email={email} onEmail={setEmail} onSwitch={() => setScreen('login')} />
        )}
        <p className="auth-server">
          Server <span className="mono">{server}</span>
        </p>
      </div>
    </main>
  );
}

function LoginForm({ email, onEmail, notice, onSwitch }: { email: string; onEmail(v: string): void; notice?: string; onSwitch(): void }) {
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);
  // Where the person types first: the password when the address came filled in.
  useEffect(() => (email ? passwordRef : emailRef).current?.focus(), []);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found: Errors = {};
    if (!email.trim()) found.email = 'Enter your email address.';
    if (!password) found.password = 'Enter your password.';
    setErrors(found);
    if (found.email) return emailRef.current?.focus();
    if (found.password) return passwordRef.current?.focus();
    setBusy(true);
    try {
      await link.request('login', { email: email.trim(), password });
    } catch (error) {
      const e = error as ChorusError;
      setErrors(e.code === 'WRONG_CREDENTIALS' ? { form: 'Wrong email address or password.' } : fieldErrors(e));
      setBusy(false);
    }
  }

  return (
    <AuthForm title="Welcome back" subtitle="Log in to your chats." onSubmit={submit} busy={busy}>
      {notice && <div className="notice" role="status">{notice}</div>}
      <FormError message={errors.form} />
      <Field ref={emailRef} label="Email address" type="email" autoComplete="email" value={email} onChange={(e) => onEmail(e.target.value)} error={errors.email} />
      <Field ref={passwordRef} label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} />
      <button type="submit" className="button button-primary button-wide" disabled={busy}>
        Log in
      </button>
      <SwitchLink onClick={onSwitch} question="Don't have an account?" action="Register" target="register" />
    </AuthForm>
  );
}

function RegisterForm({ email, onEmail, onSwitch }: { email: string; onEmail(v: string): void; onSwitch(): void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);
  const refs = {
    name: useRef<HTMLInputElement>(null),
    email: useRef<HTMLInputElement>(null),
    password: useRef<HTMLInputElement>(null),
    confirm: useRef<HTMLInputElement>(null),
  };
  useEffect(() => refs.name.current?.focus(), []);

  function show(found: Errors) {
    setErrors(found);
    const first = (['name', 'email', 'password', 'confirm'] as const).find((k) => found[k]);
    if (first) refs[first].current?.focus();
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found: Errors = {};
    if (!name.trim()) found.name = 'Enter the name others will see.';
    else found.name = nameProblem('user', normalizeName(name))?.message;
    if (!email.trim()) found.email = 'Enter your email address.';
    else if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) found.email = 'Enter an email address such as ada@example.com.';
    if (password.length < MIN_PASSWORD) found.password = `The password is too weak: use at least ${MIN_PASSWORD} characters.`;
    else found.password = await newPasswordProblem(password, { name, email });
    if (confirm !== password) found.confirm = 'The passwords do not match.';
    for (const key of Object.keys(found) as (keyof Errors)[]) if (found[key] === undefined) delete found[key];
    if (Object.keys(found).length > 0) return show(found);
    setErrors({});
    setBusy(true);
    try {
      await link.request('register', { name: name.trim(), email: email.trim(), password });
    } catch (error) {
      show(fieldErrors(error as ChorusError));
      setBusy(false);
    }
  }

  return (
    <AuthForm title="Create your account" subtitle="Chat with everyone on your network." onSubmit={submit} busy={busy}>
      <FormError message={errors.form} />
      <Field ref={refs.name} label="Name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} error={errors.name} maxLength={NAME_LENGTH.user.max} />
      <Field ref={refs.email} label="Email address" type="email" autoComplete="email" value={email} onChange={(e) => onEmail(e.target.value)} error={errors.email} />
      <Field
        ref={refs.password}
        label="Password"
        type="password"
        autoComplete="new-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        error={errors.password}
        hint={`At least ${MIN_PASSWORD} characters, and not a common password: a few unrelated words make a strong one.`}
      />
      <Field ref={refs.confirm} label="Confirm Password" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} error={errors.confirm} />
      <button type="submit" className="button button-primary button-wide" disabled={busy}>
        Register
      </button>
      <SwitchLink onClick={onSwitch} question="Already have an account?" action="Log in" target="login" />
    </AuthForm>
  );
}

function AuthForm({ title, subtitle, onSubmit, busy, children }: { title: string; subtitle: string; onSubmit(e: FormEvent): void; busy: boolean; children: ReactNode }) {
  return (
    <form className="auth-form" onSubmit={onSubmit} noValidate aria-busy={busy}>
      <h1>{title}</h1>
      <p className="auth-subtitle">{subtitle}</p>
      {children}
    </form>
  );
}

/** The whole sentence is the link, as in the original: "Don't have an account? Register". */
function SwitchLink({ question, action, target, onClick }: { question: string; action: string; target: 'login' | 'register'; onClick(): void }) {
  return (
    <p className="auth-switch">
      <a
        href={`#${target}`}
        onClick={(e) => {
          e.preventDefault();
          onClick();
        }}
      >
        {question} <strong>{action}</strong>
      </a>
    </p>
  );
}

/** A refusal placed beside the field it is about, else above the form. */
function fieldErrors(error: ChorusError): Errors {
  if (error.code === 'EMAIL_TAKEN') return { email: 'An account with this email address already exists. Log in instead?' };
  if (error.field === 'name' || error.field === 'email' || error.field === 'password') return { [error.field]: error.message };
  return { form: error.message };
}
