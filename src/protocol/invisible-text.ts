/**
 * Characters that show as nothing. Unicode's Default_Ignorable_Code_Point lists those a renderer
 * draws nothing for unless it knows better: zero-width spaces and joiners, bidi controls, soft
 * hyphens, variation selectors, the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), and code
 * points reserved for more of them (U+2065, U+FFF0..U+FFF8, U+E0000..U+E0FFF), which a renderer
 * draws as nothing even before they are assigned. Two more are not listed but are drawn blank by
 * design, the usual way to make text look empty once the listed ones are refused: U+2800
 * BRAILLE PATTERN BLANK and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD.
 *
 * Used by the name rule (display-names.ts), the look-alike skeleton (name-skeleton.ts) and the
 * blank-message rule (message-text.ts).
 */
const INVISIBLE_CLASS = String.raw`\p{Default_Ignorable_Code_Point}\u2800\u{1D159}`;

const INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, 'u');
const EVERY_INVISIBLE = new RegExp(`[${INVISIBLE_CLASS}]`, 'gu');
/** Anything a reader would see: neither white space nor invisible. */
const SHOWN = new RegExp(`[^\\s${INVISIBLE_CLASS}]`, 'u');

/** The first invisible character in the text, or undefined. */
export function firstInvisible(text: string): string | undefined {
  return INVISIBLE.exec(text)?.[0];
}

export function withoutInvisible(text: string): string {
  return text.replace(EVERY_INVISIBLE, '');
}

/** Whether the text shows nothing: only white space and invisible characters (or nothing at all). */
export function isBlankText(text: string): boolean {
  return !SHOWN.test(text);
}
