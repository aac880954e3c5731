import { functionKeyNumber } from '../dissect/message.js';
import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import { RangeSet } from '../discover/ranges.js';

/** An edge profile in the form the hot path checks against. */
export interface CompiledProfile {
  p: EdgeProfile;
  functions: Set<number>;
  protocols: Set<string>;
  writes: Map<string, RangeSet>;
  values: Map<string, [number, number]>;
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
        values: new Map(Object.entries(p.values)),
      });
    }
  }
}
