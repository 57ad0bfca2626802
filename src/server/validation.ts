import { ChorusError } from '../protocol/errors.js';

/**
 * Input rules shared by every way in (HTTP now, TCP for message text): each violation is an
 * INVALID_FIELD error that names the field, so the user learns what to fix.
 */
export const LIMITS = {
  nameLength: { min: 1, max: 64 },
  chatNameLength: { min: 1, max: 100 },
  passwordLength: { min: 8, max: 1024 },
  emailLength: { max: 254 },
} as const;

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// Deliberately simple: one @, something before it, a dotted domain after, no spaces. The
// authority on an address is its mail server, not a regex.
const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

function invalid(field: string, message: string): never {
  throw new ChorusError('INVALID_FIELD', message, field);
}

function displayName(field: string, label: string, value: string, range: { min: number; max: number }): string {
  const trimmed = value.trim();
  const length = [...trimmed].length;
  if (length < range.min) invalid(field, `${label} must not be empty`);
  if (length > range.max) invalid(field, `${label} must be at most ${range.max} characters`);
  if (CONTROL_CHARACTERS.test(trimmed)) invalid(field, `${label} must not contain control characters`);
  return trimmed;
}

export function userName(value: string): string {
  return displayName('name', 'Name', value, LIMITS.nameLength);
}

export function chatName(value: string): string {
  return displayName('name', 'Chat name', value, LIMITS.chatNameLength);
}

export function email(value: string): string {
  const normalized = value.trim().toLowerCase();
  if (normalized.length > LIMITS.emailLength.max || !EMAIL.test(normalized)) {
    invalid('email', 'Email address is not valid');
  }
  return normalized;
}

export function newPassword(value: string): string {
  const length = [...value].length;
  if (length < LIMITS.passwordLength.min) {
    invalid('password', `Password must be at least ${LIMITS.passwordLength.min} characters`);
  }
  if (length > LIMITS.passwordLength.max) {
    invalid('password', `Password must be at most ${LIMITS.passwordLength.max} characters`);
  }
  return value;
}
