/**
 * Firmware versions and the version ranges advisories state, as vendors write them: "V3.2.7", "04.02.01",
 * "5.008", "All versions < V3.X.16", "V2.0 to V2.8", "Versions 3.4 and prior", "vers:all/>=V7.80<V9.40",
 * ">= 1.2 | <= 1.5", "< V16 Update 4". Anything else is kept as unparsed, so a match against it can never
 * claim the version is in range (precision before recall).
 */

/** A version as comparable parts; null stands for an "X" wildcard part (Siemens "V3.X.16"). */
export type Version = ReadonlyArray<number | null>;

export type Op = '<' | '<=' | '>' | '>=' | '=';

export interface Bound {
  op: Op;
  v: Version;
}

/**
 * A parsed range: `all` (every version), or alternatives (any one satisfied) each a conjunction of bounds.
 * `unparsed` when the text could not be read.
 */
export type Range =
  | { kind: 'all' }
  | { kind: 'bounds'; any: Bound[][] }
  | { kind: 'unparsed'; text: string };

// Extra parts after the dotted core: service packs, updates, hot fixes, cumulative updates.
const EXTRA = /\b(?:SP|SERVICE PACK|UPDATE|UPD|HF|HOTFIX|CU|PATCH|P)\s*(\d+)\b/gi;
const CORE = /^[Vv]?\s*(\d+(?:[._](?:\d+|[Xx]))*)/;
const WIDTH = 4;

/** Read a version like "V3.2.7", "04.02.01", "5.008", "V3.X.16", "V16 Update 4"; null when no number leads. */
export function parseVersion(text: string): Version | null {
  const t = text.trim().replace(/^(?:firmware|fw|version|versions|rev\.?|revision)\s*/i, '');
  const m = CORE.exec(t);
  if (!m) return null;
  const core = m[1]!.split(/[._]/).map((p) => (/^[Xx]$/.test(p) ? null : Number(p)));
  const rest = t.slice(m[0].length);
  const extras: number[] = [];
  for (const e of rest.matchAll(EXTRA)) extras.push(Number(e[1]));
  // "15.2(4)EA9": the parenthesised maintenance number is a part too.
  const paren = /^\((\d+)\)/.exec(rest);
  if (paren) extras.unshift(Number(paren[1]));
  if (extras.length === 0) return core;
  const padded = [...core];
  while (padded.length < WIDTH) padded.push(0);
  return [...padded, ...extras];
}

/** Compare two versions part by part (missing parts are 0; a wildcard part equals anything). */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    // A wildcard part is null; a missing part (undefined) counts as 0.
    const x = i < a.length ? a[i]! : 0;
    const y = i < b.length ? b[i]! : 0;
    if (x === null || y === null) continue;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function holds(v: Version, b: Bound): boolean {
  const c = compareVersions(v, b.v);
  switch (b.op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    case '=':
      return c === 0;
  }
}

/** Whether a version lies in a range: true, false, or null when the range could not be read. */
export function inRange(v: Version, r: Range): boolean | null {
  if (r.kind === 'all') return true;
  if (r.kind === 'unparsed') return null;
  return r.any.some((conj) => conj.every((b) => holds(v, b)));
}

const ALL = /^(?:vers:[a-z]+\/\*|\*|all(?: versions?)?|all|any(?: version)?)$/i;
const VER = String.raw`[Vv]?\d+(?:[._](?:\d+|[Xx]))*(?:\s*\(\d+\)[A-Za-z]*\d*)?(?:\s+(?:SP|Update|Upd|HF|CU)\s*\d+)?`;
const BOUND = new RegExp(String.raw`(<=|>=|<|>|=)\s*(${VER})`, 'g');

function bound(op: string, text: string): Bound | null {
  const v = parseVersion(text);
  return v ? { op: op as Op, v } : null;
}

/** Parse a conjunction like ">=V7.80<V9.40", ">= 1.2 < 2.0", "< V3.X.16"; null when something is left over. */
function conjunction(text: string): Bound[] | null {
  const out: Bound[] = [];
  let rest = text;
  for (const m of text.matchAll(BOUND)) {
    const b = bound(m[1]!, m[2]!);
    if (!b) return null;
    out.push(b);
    rest = rest.replace(m[0], ' ');
  }
  if (out.length === 0) return null;
  return rest.replace(/[\s,;&]|and/gi, '') === '' ? out : null;
}

/**
 * Parse the version text of a product_version_range / product_version branch. `exact` marks a
 * product_version branch: a bare version means that one version.
 */
export function parseRange(raw: string, exact = false): Range {
  let t = raw
    .replace(/\u00a0/g, ' ')
    .trim()
    .replace(/\s+/g, ' ');
  if (t === '') return { kind: 'unparsed', text: raw };
  if (ALL.test(t)) return { kind: 'all' };
  const vers = /^vers:[a-z]+\/(.*)$/i.exec(t);
  if (vers) {
    // Package-URL style: alternatives separated by '|', each a run of bounds without separators.
    const alts = vers[1]!.split('|').map((a) => a.trim());
    if (alts.some((a) => a === '*')) return { kind: 'all' };
    const any: Bound[][] = [];
    for (const a of alts) {
      const conj =
        conjunction(a) ?? (parseVersion(a) ? [{ op: '=' as Op, v: parseVersion(a)! }] : null);
      if (!conj) return { kind: 'unparsed', text: raw };
      any.push(conj);
    }
    return { kind: 'bounds', any };
  }
  t = t.replace(/^all versions?\s*/i, '').trim();
  if (t === '') return { kind: 'all' };
  // "V2.0 to V2.8", "2.0 - 2.8", "from 2.0 through 2.8"
  const span = new RegExp(
    String.raw`^(?:from\s+)?(${VER})\s*(?:to|through|-|–)\s*(${VER})$`,
    'i',
  ).exec(t);
  if (span) {
    const lo = bound('>=', span[1]!);
    const hi = bound('<=', span[2]!);
    if (lo && hi) return { kind: 'bounds', any: [[lo, hi]] };
  }
  // "Versions 3.4 and prior", "3.4 and earlier", "prior to 3.4", "before V2", "up to and including 11.001"
  const prior = new RegExp(
    String.raw`^(?:versions?\s+|firmware\s+)?(${VER})\s+(?:and|or)\s+(?:prior|earlier|older|before|below)(?:\s+versions?)?$`,
    'i',
  ).exec(t);
  if (prior) return single('<=', prior[1]!, raw);
  const before = new RegExp(
    String.raw`^(?:all\s+)?(?:versions?\s+)?(prior to|before|earlier than|older than|up to and including|up to)\s+(${VER})$`,
    'i',
  ).exec(t);
  if (before) return single(/up to/i.test(before[1]!) ? '<=' : '<', before[2]!, raw);
  const later = new RegExp(
    String.raw`^(?:versions?\s+)?(${VER})\s+(?:and|or)\s+(?:later|newer|above|after)$`,
    'i',
  ).exec(t);
  if (later) return single('>=', later[1]!, raw);
  // ">= 1.2 | <= 1.5" in CISA's generator is one range written as two halves.
  const parts = t.split('|').map((p) => p.trim());
  if (parts.length === 2 && /^>/.test(parts[0]!) && /^</.test(parts[1]!)) {
    const conj = conjunction(`${parts[0]} ${parts[1]}`);
    if (conj) return { kind: 'bounds', any: [conj] };
  }
  if (parts.length === 1) {
    const conj = conjunction(t);
    if (conj) return { kind: 'bounds', any: [conj] };
  }
  if (exact && new RegExp(String.raw`^(?:version\s+)?${VER}$`, 'i').test(t)) {
    return single('=', t, raw);
  }
  return { kind: 'unparsed', text: raw };
}

function single(op: Op, text: string, raw: string): Range {
  const b = bound(op, text);
  return b ? { kind: 'bounds', any: [[b]] } : { kind: 'unparsed', text: raw };
}

/** The range in words, for reasons shown to people. */
export function describeRange(r: Range): string {
  if (r.kind === 'all') return 'all versions';
  if (r.kind === 'unparsed') return `"${r.text}" (not understood)`;
  return r.any.map((c) => c.map((b) => `${b.op} ${formatVersion(b.v)}`).join(' and ')).join(' or ');
}

export function formatVersion(v: Version): string {
  return 'V' + v.map((p) => (p === null ? 'X' : String(p))).join('.');
}
