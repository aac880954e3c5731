import { functionKeyNumber } from '../dissect/registry.js';
import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import { RangeSet } from '../discover/ranges.js';

/** An edge profile in the form the hot path checks against. */
export interface CompiledProfile {
  learned: EdgeProfile;
  functions: Set<number>;
  protocols: Set<string>;
  writes: Map<string, RangeSet>;
  /** Learned value range per address space and address; built on first use (see pointsOf). */
  values: Map<string, Map<number, [number, number]>> | null;
}

export class CompiledBaseline {
  readonly assets: Set<string>;
  readonly macs: Map<string, string>;
  /** Every MAC of a baseline asset. */
  readonly knownMacs: Set<string>;

  constructor(readonly baseline: Baseline) {
    this.assets = new Set(baseline.assets);
    this.macs = new Map(Object.entries(baseline.macs));
    this.knownMacs = new Set(this.macs.values());
  }

  /** 'protocol:func' → functionKeyNumber: a plant has thousands of edges but few distinct functions. */
  private readonly functionKeys = new Map<string, number>();

  private functionKey(k: string): number {
    let n = this.functionKeys.get(k);
    if (n === undefined) {
      const i = k.lastIndexOf(':');
      n = functionKeyNumber(k.slice(0, i), Number(k.slice(i + 1)));
      this.functionKeys.set(k, n);
    }
    return n;
  }

  /** The profile of an edge, compiled when the edge first shows up (most of a large baseline may stay idle). */
  profile(id: string): CompiledProfile | null {
    const p = Object.hasOwn(this.baseline.edges, id) ? this.baseline.edges[id]! : undefined;
    if (p === undefined) return null;
    const writes = new Map<string, RangeSet>();
    for (const [space, ranges] of Object.entries(p.writes))
      writes.set(space, RangeSet.from(ranges));
    return {
      learned: p,
      functions: new Set(p.functions.map((k) => this.functionKey(k))),
      protocols: new Set(p.protocols),
      writes,
      values: null,
    };
  }
}

/** Learned value ranges of a profile by space and address (the largest part of a profile, so built lazily). */
export function pointsOf(cp: CompiledProfile): Map<string, Map<number, [number, number]>> {
  return (cp.values ??= pointsBySpace(cp.learned.values));
}

/** 'space:address' keys from the baseline, regrouped so the hot path looks up numbers, not strings. */
function pointsBySpace(
  values: Record<string, [number, number]>,
): Map<string, Map<number, [number, number]>> {
  const out = new Map<string, Map<number, [number, number]>>();
  for (const [key, range] of Object.entries(values)) {
    const i = key.lastIndexOf(':');
    const space = key.slice(0, i);
    let m = out.get(space);
    if (m === undefined) {
      m = new Map();
      out.set(space, m);
    }
    m.set(Number(key.slice(i + 1)), range);
  }
  return out;
}
