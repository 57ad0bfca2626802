import { unsafeCharacterProblem } from './text-safety.js';

/**
 * The shape of an account's email address, shared by the server (which stores addresses in this
 * form and refuses others at registration) and the clients (which can check an address before
 * using it). Deliberately simple: one @, something before it, a dotted domain after, no spaces.
 * The authority on an address is its mail server, not a regex.
 */
export const EMAIL_LENGTH = { max: 254 } as const;

const EMAIL = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;

/** The form an email is stored and looked up in: trimmed, NFC, lower case. */
export function normalizeEmail(value: string): string {
  return value.normalize('NFC').trim().toLowerCase();
}

/** Whether `normalized` (after normalizeEmail) has the shape of an address an account can have. */
export function isEmailAddress(normalized: string): boolean {
  return normalized.length <= EMAIL_LENGTH.max && EMAIL.test(normalized) && !unsafeCharacterProblem(normalized);
}
