import { functionKeyNumber } from '../dissect/message.js';
import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import { RangeSet } from '../discover/ranges.js';

/** An edge profile in the form the hot path checks against. */
export interface CompiledProfile {
  p: EdgeProfile;
  functions: Set<number>;
  protocols: Set<string>;
  writes: Map<string, RangeSet>;
  /** Learned value range per address space and address. */
  values: Map<string, Map<number, [number, number]>>;
}

export class CompiledBaseline {
  readonly assets: Set<string>;
  readonly edges = new Map<string, CompiledProfile>();
  readonly macs: Map<string, string>;

  constructor(readonly baseline: Baseline) {
    this.assets = new Set(baseline.assets);
    this.macs = new Map(Object.entries(baseline.macs));
    for (const [id, p] of Object.entries(baseline.edges)) {
      const writes = new Map<string, RangeSet>();
      for (const [space, ranges] of Object.entries(p.writes)) writes.set(space, RangeSet.from(ranges));
      this.edges.set(id, {
        p,
        functions: new Set(p.functions.map((k) => { const i = k.lastIndexOf(':'); return functionKeyNumber(k.slice(0, i), Number(k.slice(i + 1))); })),
        protocols: new Set(p.protocols),
        writes,
        values: pointsBySpace(p.values),
      });
    }
  }
}

/** 'space:address' keys from the baseline, regrouped so the hot path looks up numbers, not strings. */
function pointsBySpace(values: Record<string, [number, number]>): Map<string, Map<number, [number, number]>> {
  const out = new Map<string, Map<number, [number, number]>>();
  for (const [key, range] of Object.entries(values)) {
    const i = key.lastIndexOf(':');
    const space = key.slice(0, i);
    let m = out.get(space);
    if (m === undefined) { m = new Map(); out.set(space, m); }
    m.set(Number(key.slice(i + 1)), range);
  }
  return out;
}
