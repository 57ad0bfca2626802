import { terminalSafe } from './output.js';
import { textWidth, truncateToWidth } from './wrap.js';

/** A table's room: at most `columns` wide (the terminal's), the column `shrink` giving way (a name). */
export interface TableFit {
  columns: number;
  shrink: number;
  /** Per row (header not included): the end of its cell in `shrink` that is never cut ("#12 (you)"), the rest giving way before it. */
  keptEnds?: readonly string[];
}

const GAP = '  ';

/**
 * Lines of a table with left-aligned columns, measured in terminal columns (wrap.ts: a wide
 * character takes two), so that names in any script line up. Cells are made terminal-safe.
 * With `fit`, a table wider than the terminal narrows the column that gives way, its cells cut
 * with "…", rather than letting every row wrap; never narrower than its header.
 */
export function table(header: string[], rows: string[][], fit?: TableFit): string[] {
  const cells = [header, ...rows].map((row) => row.map((cell) => terminalSafe(cell).replace(/[\t\n]/g, ' ')));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => textWidth(row[i] ?? ''))));
  if (fit) narrow(widths, fit, textWidth(cells[0]![fit.shrink] ?? ''));
  return cells.map((row, r) =>
    row
      .map((cell, i) => {
        const width = widths[i] ?? 0;
        const shown = i === fit?.shrink ? cutToWidth(cell, width, r === 0 ? '' : (fit.keptEnds?.[r - 1] ?? '')) : cell;
        return i === row.length - 1 ? shown : shown + ' '.repeat(Math.max(0, width - textWidth(shown)));
      })
      .join(GAP)
      .trimEnd(),
  );
}

/** `cell` within `width`: what comes before `keptEnd` is cut (with "…") so that the end stays whole. */
function cutToWidth(cell: string, width: number, keptEnd: string): string {
  const end = terminalSafe(keptEnd);
  if (end === '' || !cell.endsWith(end) || textWidth(cell) <= width) return truncateToWidth(cell, width);
  const room = width - textWidth(end);
  return room >= 2 ? `${truncateToWidth(cell.slice(0, cell.length - end.length), room)}${end}` : truncateToWidth(cell, width);
}

/** Takes what the table has too much from the column that gives way, down to `least`. */
function narrow(widths: number[], fit: TableFit, least: number): void {
  const total = widths.reduce((sum, w) => sum + w, 0) + GAP.length * (widths.length - 1);
  const over = total - fit.columns;
  const current = widths[fit.shrink];
  if (over > 0 && current !== undefined) widths[fit.shrink] = Math.max(least, current - over);
}

/** Where a table must fit: the terminal's width when the output is one, else (a pipe, a file) no limit. */
export function terminalColumns(output: NodeJS.WriteStream): number | undefined {
  return output.isTTY ? output.columns || 80 : undefined;
}
