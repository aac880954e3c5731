import { isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';

/**
 * A problem in a YAML file Weir reads (policy, settings), placed where a person can fix it, and the helpers
 * that place it. Printed as `file:line:col: field: message`, the form editors and CI annotations understand.
 */
export interface FileError {
  file: string;
  line: number;
  column: number;
  /** Path of the field, e.g. zones[1].mode; empty for the whole document. */
  field: string;
  message: string;
}

export function formatFileError(e: FileError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.field ? `${e.field}: ` : ''}${e.message}`;
}

/** One error naming every problem of a file (`what`: policy, settings file), one per line. */
export function invalidFile(file: string, what: string, errors: FileError[]): Error {
  const n = errors.length;
  return new Error(
    `${file} is not a valid ${what} (${n} problem${n === 1 ? '' : 's'}):\n${errors.map(formatFileError).join('\n')}`,
  );
}

/** For an unknown field: the known one it is a typo of, else the list of known ones. */
export function suggestion(extra: string, parentSchema: unknown): string {
  const props = Object.keys(
    (parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {},
  );
  const near = props.find((p) => editDistance(p, extra) <= 2);
  return near
    ? ` (did you mean '${near}'?)`
    : props.length
      ? ` (expected one of ${props.join(', ')})`
      : '';
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
  return d[a.length]![b.length]!;
}

export function fieldName(path: Array<string | number>): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** Source offset of the node at `path` (or of its key), falling back to the nearest existing parent. */
export function offsetOf(doc: Document, path: Array<string | number>, key: boolean): number {
  let node: unknown = doc.contents;
  let best = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === seg);
      if (pair === undefined) return best;
      const k = pair.key as Node;
      if (key && i === path.length - 1) return k.range?.[0] ?? best;
      best = k.range?.[0] ?? best;
      node = pair.value;
      const v = node as Node | null;
      if (v?.range) best = v.range[0];
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      const v = node as Node | null;
      if (v?.range) best = v.range[0];
      else return best;
    } else return best;
  }
  return best;
}
