import { functionKeyNumber } from '../dissect/registry.js';
import type { Baseline, EdgeProfile } from '../discover/baseline.js';
import { RangeSet } from '../discover/ranges.js';

/**
 * An edge profile in the form the hot path checks against. Each part is compiled on its first use: a large
 * baseline has thousands of edges, most of which only ever need their functions (or nothing, for an edge that
 * carries no requests), so an edge showing up costs one lookup, not a compile of its whole profile.
 */
export class CompiledProfile {
  private fns: Set<number> | null = null;
  private protos: Set<string> | null = null;
  private ws: Map<string, RangeSet> | null = null;
  private valued: boolean | undefined = undefined;
  /** Learned value range per address space and address; built on first use (see pointsOf). */
  values: Map<string, Map<number, [number, number]>> | null = null;

  constructor(
    readonly learned: EdgeProfile,
    private readonly keys: CompiledBaseline,
  ) {}

  /** functionKeyNumber of every function the edge used while learning (shared: never changed). */
  get functions(): Set<number> {
    if (this.fns === null) {
      this.fns = this.keys.functionSet(this.learned.functions);
    }
    return this.fns;
  }

  get protocols(): Set<string> {
    return (this.protos ??= new Set(this.learned.protocols));
  }

  /** The edge learned process values (value_out_of_range has something to compare against). */
  get hasValues(): boolean {
    if (this.valued === undefined) {
      this.valued = false;
      for (const k in this.learned.values)
        if (Object.hasOwn(this.learned.values, k)) {
          this.valued = true;
          break;
        }
    }
    return this.valued;
  }

  /** Learned write ranges per address space. */
  get writes(): Map<string, RangeSet> {
    if (this.ws === null) {
      const ws = new Map<string, RangeSet>();
      for (const [space, ranges] of Object.entries(this.learned.writes))
        ws.set(space, RangeSet.from(ranges));
      this.ws = ws;
    }
    return this.ws;
  }
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

  functionKey(k: string): number {
    let n = this.functionKeys.get(k);
    if (n === undefined) {
      const i = k.lastIndexOf(':');
      n = functionKeyNumber(k.slice(0, i), Number(k.slice(i + 1)));
      this.functionKeys.set(k, n);
    }
    return n;
  }

  /**
   * Function sets by learned list: thousands of edges repeat a few lists (the same poll), so each list is
   * turned into numbers once and its set shared (read only) by every profile that learned it.
   */
  private readonly functionSets = new Map<string, Set<number>>();

  functionSet(functions: readonly string[]): Set<number> {
    const list = functions.length === 1 ? functions[0]! : functions.join(' ');
    let fns = this.functionSets.get(list);
    if (fns === undefined) {
      fns = new Set<number>();
      for (const k of functions) fns.add(this.functionKey(k));
      this.functionSets.set(list, fns);
    }
    return fns;
  }

  /**
   * The profile of an edge when the edge first shows up (most of a large baseline may stay idle); its parts
   * compile on first use.
   */
  profile(id: string): CompiledProfile | null {
    const p = Object.hasOwn(this.baseline.edges, id) ? this.baseline.edges[id]! : undefined;
    return p === undefined ? null : new CompiledProfile(p, this);
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
