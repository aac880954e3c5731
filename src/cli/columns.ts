/**
 * Plain aligned columns (the kubectl/ps style) for tables that can hold thousands of rows: a boxed table
 * library measures every cell many times and takes seconds there; this is one pass for widths, one for output.
 */
export function renderColumns(head: string[], rows: string[][], gap = 2): string {
  const widths = head.map((h) => h.length);
  for (const r of rows) for (let i = 0; i < r.length; i++) if (r[i]!.length > widths[i]!) widths[i] = r[i]!.length;
  const line = (cells: string[]): string => {
    let s = '';
    for (let i = 0; i < cells.length; i++) s += i === cells.length - 1 ? cells[i] : cells[i]!.padEnd(widths[i]! + gap);
    return s.trimEnd();
  };
  const out = [line(head), line(widths.map((w) => '-'.repeat(w)))];
  for (const r of rows) out.push(line(r));
  return out.join('\n');
}
