import { escapeControls } from '../store/untrusted-text.js';

/**
 * Plain aligned columns (the kubectl/ps style) for tables that can hold thousands of rows: a boxed table
 * library measures every cell many times and takes seconds there; this is one pass for widths, one for output.
 * Given a width (the terminal's), long free-text columns give way and their cells wrap at spaces onto
 * continuation lines; when even whole words cannot fit side by side, each row is printed as a record of
 * `field value` lines instead (psql's expanded display). Nothing is cut off either way.
 */
export function renderColumns(
  head: string[],
  shown: string[][],
  gap = 2,
  width: number | null = terminalWidth(),
): string {
  // A cell may hold what a stranger typed (a portal user name in the audit log): no terminal escape or bidi
  // mark reaches the screen, where it could erase or forge lines.
  const rows = shown.map((r) => r.map(escapeControls));
  const natural = head.map((h) => h.length);
  for (const r of rows)
    for (let i = 0; i < r.length; i++) if (r[i]!.length > natural[i]!) natural[i] = r[i]!.length;
  const room = width === null ? Infinity : width - gap * (head.length - 1);
  const widths =
    natural.reduce((a, b) => a + b, 0) <= room ? natural : fitWidths(natural, head, rows, room);
  if (widths === null) return renderRecords(head, rows, width!);
  const line = (cells: string[]): string => {
    let s = '';
    for (let i = 0; i < cells.length; i++)
      s += i === cells.length - 1 ? cells[i] : cells[i]!.padEnd(widths[i]! + gap);
    return s.trimEnd();
  };
  const out: string[] = [];
  const push = (cells: string[]): void => {
    if (cells.every((c, i) => c.length <= widths[i]!)) {
      out.push(line(cells));
      return;
    }
    const wrapped = cells.map((c, i) => wrap(c, widths[i]!));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++) out.push(line(wrapped.map((w) => w[k] ?? '')));
  };
  push(head);
  out.push(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) push(r);
  return out.join('\n');
}

/**
 * Columns a table may fill: COLUMNS when set (a deliberate choice, also for piped output), else the
 * terminal's width; null when writing to a pipe or file, where nothing is wrapped (scripts read whole lines).
 */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): number | null {
  const env = Number(process.env.COLUMNS);
  if (Number.isInteger(env) && env > 0) return env;
  return stream.isTTY && stream.columns > 0 ? stream.columns : null;
}

/**
 * Widths that fit `room`: each column gets its longest word (so words stay whole), and the rest of the room
 * goes to the columns in proportion to what they hold beyond that. Where the words alone do not fit, words
 * longer than 24, then 20, then 16 characters may break; null when even that does not fit.
 */
function fitWidths(
  natural: number[],
  head: string[],
  rows: string[][],
  room: number,
): number[] | null {
  const longest = head.map((h) => longestWord(h));
  for (const r of rows)
    for (let i = 0; i < r.length; i++) {
      const w = longestWord(r[i]!);
      if (w > longest[i]!) longest[i] = w;
    }
  for (const cap of [Infinity, 24, 20, 16]) {
    const word = longest.map((w) => Math.min(w, cap));
    const minimum = word.reduce((a, b) => a + b, 0);
    if (minimum > room) continue;
    const slack = natural.map((n, i) => n - word[i]!);
    const total = slack.reduce((a, b) => a + b, 0);
    return word.map((w, i) => w + Math.floor(((room - minimum) * slack[i]!) / total));
  }
  return null;
}

/** One record per row, `field  value`, values wrapped under themselves; empty fields are left out. */
function renderRecords(head: string[], rows: string[][], width: number): string {
  const label = Math.max(...head.map((h) => h.length)) + 2;
  const room = Math.max(width - label, 8);
  const out: string[] = [];
  rows.forEach((r, n) => {
    out.push(`-[ ${n + 1} ]`.padEnd(Math.min(width, label + 8), '-'));
    r.forEach((cell, i) => {
      if (cell === '') return;
      wrap(cell, room).forEach((part, k) =>
        out.push(`${k === 0 ? head[i]!.padEnd(label) : ' '.repeat(label)}${part}`),
      );
    });
  });
  return out.join('\n');
}

function longestWord(text: string): number {
  let best = 0,
    start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (i === text.length || c === ' ' || c === ',') {
      best = Math.max(best, i - start + (c === ',' ? 1 : 0));
      start = i + 1;
    }
  }
  return best;
}

/** A cell as lines of at most `width`: broken after a space or comma where it can, inside a word where it must. */
/** A sentence wrapped at spaces to the terminal's width (as is when the output is not a terminal). */
export function fitLine(text: string, width: number | null = terminalWidth()): string {
  return width === null ? text : wrap(text, width).join('\n');
}

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const at = Math.max(rest.lastIndexOf(' ', width), rest.lastIndexOf(',', width - 1) + 1);
    const cut = at > 0 ? at : width;
    out.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  out.push(rest);
  return out;
}
