import { ChorusError } from './errors.js';
import { unsafeCharacterProblem } from './text-safety.js';

/**
 * The rule for the names people see: user names and chat names. Shared by the server (which
 * enforces it) and the clients (which can check a name before sending it and show the same
 * reason). A name is trimmed and normalised to NFC, so that "é" typed as one code point or as
 * "e" plus a combining accent is one name; it may not hold characters that are invisible or
 * that reorder what follows (zero-width spaces, bidi overrides: "alice\u200b" would pass for
 * "alice", "\u202egnp.exe" shows as "exe.png"), nor control characters.
 */
export const NAME_LENGTH = {
  user: { min: 1, max: 64 },
  chat: { min: 1, max: 100 },
} as const;

export type NameKind = keyof typeof NAME_LENGTH;

const LABEL: Record<NameKind, string> = { user: 'Name', chat: 'Chat name' };

/** The form a name is stored and compared in: trimmed, NFC. */
export function normalizeName(value: string): string {
  // Normalising a lone surrogate is harmless (it stays), and the rule below refuses it.
  return value.normalize('NFC').trim();
}

/** Why the server refuses this name (after normalizeName), or undefined when it takes it. */
export function nameProblem(kind: NameKind, name: string): ChorusError | undefined {
  const label = LABEL[kind];
  const { min, max } = NAME_LENGTH[kind];
  const length = [...name].length;
  if (length < min) return new ChorusError('INVALID_FIELD', `${label} must not be empty`, 'name');
  if (length > max) return new ChorusError('INVALID_FIELD', `${label} must be at most ${max} characters`, 'name');
  const unsafe = unsafeCharacterProblem(name);
  if (unsafe) return new ChorusError('INVALID_FIELD', `${label} ${unsafe}`, 'name');
  return undefined;
}

/** normalizeName, then nameProblem thrown: the server's one call. */
export function checkedName(kind: NameKind, value: string): string {
  const name = normalizeName(value);
  const problem = nameProblem(kind, name);
  if (problem) throw problem;
  return name;
}
