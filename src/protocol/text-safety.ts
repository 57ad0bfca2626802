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
  if (!match) return undefined;
  const codePoint = match[0].codePointAt(0) ?? 0;
  return `must not contain invisible, control or direction-changing characters (found U+${codePoint.toString(16).toUpperCase().padStart(4, '0')})`;
}

/** Whether a database can store this text and give back exactly the same (no NUL, no lone surrogate). */
export function isStorableText(text: string): boolean {
  return !LONE_SURROGATE.test(text) && !text.includes('\u0000');
}
