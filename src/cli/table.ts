/**
 * Plain-text tables for a terminal: columns aligned on the characters a user sees, colour added after the
 * padding so escape sequences never shift a column. Pure: text in, text out.
 */

/** How a cell is coloured when colour is on. */
export type Style = 'green' | 'yellow' | 'red' | 'dim' | 'bold';

/** One cell: its text, and optionally how to colour it. */
export type Cell = string | { text: string; style?: Style };

/** One column of a {@link renderTable} table. */
export interface Column {
  title: string;
  /** Numbers read best right-aligned. */
  align?: 'left' | 'right';
  /** Left out when no row has text in it (a NOTE column nobody needs). */
  optional?: boolean;
}

const CODES: Record<Style, string> = { green: '32', yellow: '33', red: '31', dim: '2', bold: '1' };

/** `text` wrapped in the ANSI colour of `style`, or unchanged when colour is off. */
export function paint(text: string, style: Style | undefined, color: boolean): string {
  return color && style && text !== '' ? `\x1b[${CODES[style]}m${text}\x1b[0m` : text;
}

/** How many terminal columns `text` takes: code points, so `→` counts one. */
export function visibleWidth(text: string): number {
  return [...text].length;
}

function textOf(cell: Cell | undefined): string {
  return cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text;
}

/**
 * Renders rows under a header line, two spaces between columns, every line starting with `indent`. The last
 * column is not padded (no trailing blanks), so a long note there does not widen the others.
 */
export function renderTable(columns: Column[], rows: Cell[][], opts: { color: boolean; indent?: string }): string {
  const keep = columns.map((c, i) => !c.optional || rows.some((r) => textOf(r[i]) !== ''));
  const shown = columns.map((c, i) => ({ c, i })).filter(({ i }) => keep[i]);
  const widths = shown.map(({ c, i }) => Math.max(visibleWidth(c.title), ...rows.map((r) => visibleWidth(textOf(r[i])))));
  const indent = opts.indent ?? '';
  const line = (cells: { text: string; style?: Style }[]) => {
    const parts = cells.map((cell, k) => {
      const { c } = shown[k]!;
      const last = k === cells.length - 1;
      const gap = ' '.repeat(widths[k]! - visibleWidth(cell.text));
      const padded = c.align === 'right' ? gap + paint(cell.text, cell.style, opts.color) : last ? paint(cell.text, cell.style, opts.color) : paint(cell.text, cell.style, opts.color) + gap;
      return padded;
    });
    return (indent + parts.join('  ')).trimEnd();
  };
  const out = [line(shown.map(({ c }) => ({ text: c.title, style: 'dim' as const })))];
  for (const r of rows) {
    out.push(line(shown.map(({ i }) => {
      const cell = r[i];
      return typeof cell === 'object' ? cell : { text: cell ?? '' };
    })));
  }
  return out.join('\n');
}
