import { checkedName, NAME_LENGTH } from '../protocol/display-names.js';
import { ChorusError } from '../protocol/errors.js';
import { EMAIL_LENGTH, isEmailAddress, normalizeEmail } from '../protocol/email-address.js';
import { PASSWORD_LENGTH, type PasswordOwner, passwordProblem } from '../protocol/password-rule.js';
import { unsafeCharacterProblem } from '../protocol/text-safety.js';

/**
 * Input rules for every text the accounts and chats API stores or looks up: each violation is an
 * INVALID_FIELD error that names the field, so the user learns what to fix. The rules for names
 * and passwords live in src/protocol/, where the clients can check them too; every text goes
 * through a rule that refuses what the engines would not store the same way (NUL, lone
 * surrogates), so that both engines answer a 400, never a 500.
 */
export const LIMITS = {
  nameLength: NAME_LENGTH.user,
  chatNameLength: NAME_LENGTH.chat,
  passwordLength: PASSWORD_LENGTH,
  emailLength: EMAIL_LENGTH,
} as const;

function invalid(field: string, message: string): never {
  throw new ChorusError('INVALID_FIELD', message, field);
}

export function userName(value: string): string {
  return checkedName('user', value);
}

export function chatName(value: string): string {
  return checkedName('chat', value);
}

/** The form an email is stored and looked up in (protocol/email-address.ts); characters no address may hold are refused. */
function normalizedEmail(value: string): string {
  const normalized = normalizeEmail(value);
  const unsafe = unsafeCharacterProblem(normalized);
  if (unsafe) invalid('email', `Email address ${unsafe}`);
  return normalized;
}

/** An email given at registration: normalised, and refused unless it looks like an address. */
export function email(value: string): string {
  const normalized = normalizedEmail(value);
  if (!isEmailAddress(normalized)) invalid('email', 'Email address is not valid');
  return normalized;
}

/**
 * An email given at login: normalised as at registration, so it finds the account; text no
 * account's email can hold is refused (a 400, not a lookup PostgreSQL would fail), any other
 * text is looked up and simply matches nothing.
 */
export function loginEmail(value: string): string {
  return normalizedEmail(value);
}

/** A new password, checked against its owner's name and email (see password-rule.ts). */
export function newPassword(value: string, owner: PasswordOwner): string {
  const problem = passwordProblem(value, owner);
  if (problem) throw problem;
  return value;
}
