import type { ErrorObject, ValidateFunction } from 'ajv';

export type Path = Array<string | number>;
export type Section = 'assets' | 'zones' | 'conduits' | 'groups' | 'windows';

/** A policy with its misshapen parts cut out, so its meaning can still be checked in the same run. */
export interface Pruned {
  raw: unknown;
  /** Names of whole entries (a zone, an asset, …) cut out: references to them are not errors of their own. */
  ghosts: Record<Section, Set<string>>;
  /** A path in the pruned tree → the same node's path in the file (array entries shift when one is cut). */
  origin: (p: Path) => Path;
}

const CUT = Symbol('cut');
const SECTIONS: readonly Section[] = ['assets', 'zones', 'conduits', 'groups', 'windows'];

/** The instance path of an ajv error as keys and indices. */
export function errorPath(e: ErrorObject): Path {
  return e.instancePath
    .split('/')
    .slice(1)
    .map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

/**
 * Cut every value the schema rejects (an entry missing a required field goes as a whole) until the rest has
 * the right shape. Null when what is wrong is the document itself (no zones, not a policy).
 */
export function pruneToShape(
  raw: unknown,
  validate: ValidateFunction,
  relevant: (e: ErrorObject) => boolean,
): Pruned | null {
  const tree = structuredClone(raw);
  const ghosts = Object.fromEntries(SECTIONS.map((s) => [s, new Set<string>()])) as Record<
    Section,
    Set<string>
  >;
  const originals = new WeakMap<unknown[], number[]>();
  for (let round = 0; round < 16; round++) {
    if (validate(tree)) return { raw: tree, ghosts, origin: (p) => originOf(tree, p, originals) };
    for (const e of (validate.errors ?? []).filter(relevant)) {
      const path = errorPath(e);
      const target =
        e.keyword === 'additionalProperties'
          ? [...path, String((e.params as { additionalProperty: string }).additionalProperty)]
          : path;
      if (target.length === 0) return null;
      const parent = at(tree, target.slice(0, -1));
      if (parent === null || typeof parent !== 'object') return null;
      const key = target.at(-1)!;
      const value = (parent as Record<string | number, unknown>)[key];
      if (
        target.length === 2 &&
        SECTIONS.includes(target[0] as Section) &&
        typeof (value as { name?: unknown } | null)?.name === 'string'
      ) {
        ghosts[target[0] as Section].add((value as { name: string }).name);
      }
      (parent as Record<string | number, unknown>)[key] = CUT;
    }
    sweep(tree, originals);
  }
  return null;
}

function at(tree: unknown, path: Path): unknown {
  let node = tree;
  for (const seg of path) {
    if (node === null || typeof node !== 'object') return null;
    node = (node as Record<string | number, unknown>)[seg];
  }
  return node;
}

/** Drop what was cut; array entries close up, and each array remembers where its entries stood in the file. */
function sweep(node: unknown, originals: WeakMap<unknown[], number[]>): void {
  if (Array.isArray(node)) {
    const before = originals.get(node) ?? node.map((_, i) => i);
    const after: number[] = [];
    let w = 0;
    for (let i = 0; i < node.length; i++) {
      if (node[i] === CUT) continue;
      node[w++] = node[i];
      after.push(before[i]!);
    }
    if (w !== node.length) {
      node.length = w;
      originals.set(node, after);
    }
    for (const v of node) sweep(v, originals);
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (v === CUT) delete (node as Record<string, unknown>)[k];
      else sweep(v, originals);
    }
  }
}

function originOf(tree: unknown, path: Path, originals: WeakMap<unknown[], number[]>): Path {
  let node = tree;
  return path.map((seg) => {
    const here = node;
    node =
      node !== null && typeof node === 'object'
        ? (node as Record<string | number, unknown>)[seg]
        : undefined;
    return Array.isArray(here) && typeof seg === 'number'
      ? (originals.get(here)?.[seg] ?? seg)
      : seg;
  });
}
