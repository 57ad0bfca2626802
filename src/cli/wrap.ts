/**
 * Word wrapping for messages shown in a terminal (chat, history, tail): a long message breaks
 * between words, its later rows indented under the first, instead of being cut mid-word at the
 * terminal's edge. Widths are in terminal columns: most characters take one, East Asian wide
 * ones and emoji two, combining marks none (an approximation of wcwidth that is right for the
 * text people type).
 */

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1faff}\u{20000}-\u{3fffd}]/u;
const ZERO_WIDTH = /[\p{Mn}\p{Me}\u200b-\u200f\ufe00-\ufe0f]/u;
/**
 * A character people see as an emoji, which terminals draw two columns wide: one shown as an
 * emoji by default (✅ ⭐ ☕ 🆗), one made an emoji by VS16 (❤️), a keycap (#️⃣), or a flag (two regional
 * indicators). A sequence joined with ZWJ (👨‍👩‍👧) is one such character.
 */
const EMOJI = /^(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\ufe0f|\p{Regional_Indicator}{2}|[#*0-9]\ufe0f?\u20e3)/u;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Terminal columns one code point takes, alone. */
function codePointWidth(char: string): number {
  if (ZERO_WIDTH.test(char)) return 0;
  return WIDE.test(char) ? 2 : 1;
}

/** Terminal columns one character as people see it (a grapheme: a letter and its accents, an emoji and its joiners) takes. */
export function charWidth(grapheme: string): number {
  if (EMOJI.test(grapheme)) return 2;
  let width = 0;
  for (const char of grapheme) width += codePointWidth(char);
  return width;
}

export function textWidth(text: string): number {
  let width = 0;
  for (const { segment } of graphemes.segment(text)) width += charWidth(segment);
  return width;
}

/**
 * `text` cut to at most `columns` wide, ending in "…" where anything was cut. It is cut between
 * characters as people see them, never inside one made of several code points (a letter and
 * its accent, an emoji and its joiners).
 */
export function truncateToWidth(text: string, columns: number): string {
  if (textWidth(text) <= columns) return text;
  let kept = '';
  let width = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = textWidth(segment);
    if (width + w > columns - 1) break;
    kept += segment;
    width += w;
  }
  return `${kept}…`;
}

/** Below this many columns for the text, wrapping would help nobody: lines are left as they are. */
const MIN_TEXT_COLUMNS = 20;

/**
 * `text` (which may hold line breaks) as rows of at most `columns`: broken at spaces where it
 * can be, inside a word only when the word alone is wider than a row. Each line keeps its own
 * leading spaces; the rows it wraps onto start with `indent` (or with its own leading spaces,
 * where those are deeper).
 */
export function wrapText(text: string, columns: number, indent = '    '): string {
  if (columns - textWidth(indent) < MIN_TEXT_COLUMNS) return text;
  return text
    .split('\n')
    .map((line) => {
      const own = /^ */.exec(line)![0];
      const rowIndent = own.length > indent.length ? own : indent;
      const room = columns - rowIndent.length;
      if (room < MIN_TEXT_COLUMNS) return line;
      return wrapLine(line, columns, room)
        .map((row, r) => (r === 0 ? row : rowIndent + row))
        .join('\n');
    })
    .join('\n');
}

/** One line's rows: the first at most `first` wide, the others at most `rest`. */
function wrapLine(line: string, first: number, rest: number): string[] {
  const rows: string[] = [];
  let row = '';
  let width = 0;
  let limit = first;
  const breakRow = () => {
    rows.push(row.trimEnd());
    row = '';
    width = 0;
    limit = rest;
  };
  for (const token of line.split(/( +)/)) {
    if (token === '') continue;
    const tokenWidth = textWidth(token);
    if (width + tokenWidth <= limit) {
      row += token;
      width += tokenWidth;
    } else if (token.startsWith(' ')) {
      // Spaces where a row breaks are the break itself.
      breakRow();
    } else {
      // A word that fits a row of its own starts one; a word wider than any row fills this
      // one and is cut where each row ends.
      if (width > 0 && tokenWidth <= rest) breakRow();
      for (const { segment: char } of graphemes.segment(token)) {
        const w = charWidth(char);
        if (width + w > limit && width > 0) breakRow();
        row += char;
        width += w;
      }
    }
  }
  rows.push(row);
  return rows;
}

/** A line as shown on `output`: in a terminal, wrapped between words and indented rather than cut mid-word at its edge; elsewhere (a pipe, a file) as it is. */
export function fitToTerminal(line: string, output: NodeJS.WriteStream): string {
  return output.isTTY ? wrapText(line, output.columns || 80) : line;
}
