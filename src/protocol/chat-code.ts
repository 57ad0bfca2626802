/**
 * Chat codes: 10 characters of Crockford base32 (50 random bits), shown as XXXXX-XXXXX.
 * Knowing the code is what lets someone join, so it is random, never sequential. Crockford's
 * alphabet leaves out I, L, O and U, and reading accepts their look-alikes, so a code read aloud
 * or typed by hand still works.
 */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 10;
const LOOKALIKES: Record<string, string> = { I: '1', L: '1', O: '0' };

export function newChatCode(): string {
  // Web Crypto (global in Node 20 and browsers) keeps this module free of node: imports, so the
  // web UI can use the same normalisation to check what a person typed.
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(CODE_LENGTH));
  let code = '';
  for (const byte of bytes) code += ALPHABET[byte & 31];
  return code;
}

/** The canonical (stored) form of a code typed by a user, or undefined if it cannot be one. */
export function normalizeChatCode(input: string): string | undefined {
  const compact = input.trim().toUpperCase().replace(/[-\s]/g, '');
  if (compact.length !== CODE_LENGTH) return undefined;
  let code = '';
  for (const ch of compact) {
    const mapped = LOOKALIKES[ch] ?? ch;
    if (!ALPHABET.includes(mapped)) return undefined;
    code += mapped;
  }
  return code;
}

/** The form shown to people: XXXXX-XXXXX. */
export function formatChatCode(code: string): string {
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}
