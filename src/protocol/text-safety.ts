/**
 * Characters no stored text may hold, because the engines would not keep it the same way
 * (PostgreSQL refuses U+0000; a lone surrogate becomes U+FFFD, and not always the same number
 * of them), plus those that make one text look like another: control characters (Cc), format
 * characters (Cf: zero-width spaces and joiners, bidi overrides and isolates, soft hyphens) and
 * the line and paragraph separators. Shared by the name, email and password rules.
 */
const UNSAFE_CHARACTER = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** A lone surrogate: text that is not well-formed UTF-16, so has no UTF-8 form. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Why this text cannot be taken as it is, in words for the person who typed it, or undefined. */
export function unsafeCharacterProblem(text: string): string | undefined {
  if (LONE_SURROGATE.test(text)) return 'is not well-formed Unicode text';
  if (text.includes('\u0000')) return 'must not contain the NUL character';
  const match = UNSAFE_CHARACTER.exec(text);
  return match ? hiddenCharacterProblem(match[0]) : undefined;
}

/** The words for a character that hides or reorders text, naming it as U+XXXX. */
export function hiddenCharacterProblem(char: string): string {
  return `must not contain invisible, control or direction-changing characters (found ${codePointName(char)})`;
}

/** "U+200B": how refusals name a character, since it may not show. */
export function codePointName(char: string): string {
  const codePoint = char.codePointAt(0) ?? 0;
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Whether a database can store this text and give back exactly the same (no NUL, no lone surrogate). */
export function isStorableText(text: string): boolean {
  return !LONE_SURROGATE.test(text) && !text.includes('\u0000');
}
