import { functionKeyNumber } from '../dissect/registry.js';
import type { Baseline, IoProfile } from '../discover/baseline.js';
import type { EdgeAddress } from '../discover/edge-table.js';
import { RangeSet } from '../discover/ranges.js';

/**
 * What detectors read of an edge's learned profile (timing thresholds, texts and fields of findings), with the
 * names the baseline file uses. Lists are shared by every edge that learned the same one: frozen.
 */
export interface LearnedEdge {
  readonly server: string;
  readonly protocols: readonly string[];
  /** Function codes seen, as 'protocol:func'. */
  readonly functions: readonly string[];
  readonly writes: Readonly<Record<string, Array<[number, number]>>>;
  readonly values: Readonly<Record<string, [number, number]>>;
  readonly pollInterval: number | null;
  readonly pollJitter: number | null;
  readonly maxRequestGap: number;
  readonly requestRate: number;
  readonly requests: number;
  readonly anomalyKinds: readonly string[];
}

/** An edge profile in the form the hot path checks against (made when the edge first shows up). */
export class CompiledProfile {
  /** functionKeyNumber of every function the edge used while learning (shared: never changed). */
  readonly functions: Set<number>;
  /** Protocols the edge used while learning (shared: never changed). */
  readonly protocols: Set<string>;
  /** The edge learned process values (value_out_of_range has something to compare against). */
  readonly hasValues: boolean;
  readonly learned: LearnedEdge;
  private ws: Map<string, RangeSet> | null = null;
  /** Learned value range per address space and address; built on first use (see pointsOf). */
  values: Map<string, Map<number, [number, number]>> | null = null;

  constructor(b: CompiledBaseline, i: number) {
    this.functions = b.functionSetAt(i);
    this.protocols = b.protocolSetAt(i);
    this.hasValues = b.valuesAt(i) !== NO_VALUES;
    this.learned = new Learned(b, i);
  }

  /** Learned write ranges per address space (compiled on first use: few edges write). */
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

/** A profile's learned parts, read from the compiled baseline's columns. */
class Learned implements LearnedEdge {
  constructor(
    private readonly b: CompiledBaseline,
    private readonly i: number,
  ) {}
  get server(): string {
    return this.b.servers[this.i]!;
  }
  get protocols(): readonly string[] {
    return this.b.listAt(this.b.protoList[this.i]!);
  }
  get functions(): readonly string[] {
    return this.b.listAt(this.b.fnList[this.i]!);
  }
  get anomalyKinds(): readonly string[] {
    return this.b.listAt(this.b.anomalyList[this.i]!);
  }
  get writes(): Readonly<Record<string, Array<[number, number]>>> {
    return this.b.writesAt(this.i);
  }
  get values(): Readonly<Record<string, [number, number]>> {
    return this.b.valuesAt(this.i);
  }
  get pollInterval(): number | null {
    const v = this.b.nums[this.i * NUMS + POLL_INTERVAL]!;
    return v !== v ? null : v;
  }
  get pollJitter(): number | null {
    const v = this.b.nums[this.i * NUMS + POLL_JITTER]!;
    return v !== v ? null : v;
  }
  get maxRequestGap(): number {
    return this.b.nums[this.i * NUMS + MAX_GAP]!;
  }
  get requestRate(): number {
    return this.b.nums[this.i * NUMS + RATE]!;
  }
  get requests(): number {
    return this.b.nums[this.i * NUMS + REQUESTS]!;
  }
}

/** Numbers kept per edge, in one Float64Array (a null poll interval or jitter is NaN). */
const NUMS = 5,
  POLL_INTERVAL = 0,
  POLL_JITTER = 1,
  MAX_GAP = 2,
  RATE = 3,
  REQUESTS = 4;
/** What an edge that learned no writes or no values reads (a fresh empty object each, as parsed, before). */
const NO_WRITES: Readonly<Record<string, Array<[number, number]>>> = Object.freeze({});
const NO_VALUES: Readonly<Record<string, [number, number]>> = Object.freeze({});

/**
 * A baseline compiled for detection, holding no reference to the parsed baseline's edge records: the parsed
 * document (thousands of objects, twice the size of its text) can be dropped once the engine is built, instead
 * of being promoted out of the young generation by the capture pass's first collections and marked through every
 * major one. Edges become columns (typed arrays; lists shared by every edge that learned the same one) by index,
 * found by their id; only the few edges that learned writes or values keep those parts as parsed.
 */
export class CompiledBaseline {
  readonly assets: Set<string>;
  readonly macs: Map<string, string>;
  /** Every MAC of a baseline asset. */
  readonly knownMacs: Set<string>;
  /** What detectors read of the baseline as learned besides its edges (MACs by address, I/O directions). */
  readonly baseline: {
    readonly macs: Record<string, string>;
    readonly io?: Record<string, IoProfile>;
  };
  /** Per edge: its server's address text, and the index of its protocol, function and anomaly-kind lists. */
  readonly servers: string[];
  readonly protoList: Uint32Array;
  readonly fnList: Uint32Array;
  readonly anomalyList: Uint32Array;
  /** NUMS numbers per edge. */
  readonly nums: Float64Array;
  /** Edge index by id (the baseline's own keys, so no id text is kept twice). */
  private readonly byId = new Map<string, number>();
  private readonly writes = new Map<number, Record<string, Array<[number, number]>>>();
  private readonly values = new Map<number, Record<string, [number, number]>>();
  /** Distinct lists (index 0 the empty list), and the index of each by its text. */
  private readonly lists: (readonly string[])[] = [EMPTY_LIST];
  private readonly listIndex = new Map<unknown, number>();
  /** Compiled sets per list index, built on first use. */
  private readonly fnSets: (Set<number> | undefined)[] = [];
  private readonly protoSets: (Set<string> | undefined)[] = [];

  constructor(baseline: Baseline) {
    this.assets = new Set(baseline.assets);
    this.macs = new Map(Object.entries(baseline.macs));
    this.knownMacs = new Set(this.macs.values());
    this.baseline =
      baseline.io !== undefined
        ? { macs: baseline.macs, io: baseline.io }
        : { macs: baseline.macs };
    const edges = baseline.edges;
    const ids = Object.keys(edges);
    const n = ids.length;
    // Runs once per engine, before any packet, mostly in the interpreter: locals, few calls per edge.
    const servers = (this.servers = new Array<string>(n));
    const protoList = (this.protoList = new Uint32Array(n));
    const fnList = (this.fnList = new Uint32Array(n));
    const anomalyList = (this.anomalyList = new Uint32Array(n));
    const nums = (this.nums = new Float64Array(n * NUMS));
    const byId = this.byId;
    // Neighbouring edges mostly learned the same one-item lists (one protocol, one polled function): compared
    // with the last edge's before the table is asked.
    const none = Symbol('none');
    let lastP: unknown = none,
      lastPk = 0,
      lastF: unknown = none,
      lastFk = 0;
    for (let i = 0, o = 0; i < n; i++, o += NUMS) {
      const id = ids[i]!;
      const e = edges[id]!;
      byId.set(id, i);
      servers[i] = e.server;
      const p = e.protocols,
        f = e.functions,
        ak = e.anomalyKinds;
      if (p !== undefined && p.length === 1 && p[0] === lastP) protoList[i] = lastPk;
      else {
        lastPk = protoList[i] = this.intern(p);
        lastP = p !== undefined && p.length === 1 ? p[0] : none;
      }
      if (f !== undefined && f.length === 1 && f[0] === lastF) fnList[i] = lastFk;
      else {
        lastFk = fnList[i] = this.intern(f);
        lastF = f !== undefined && f.length === 1 ? f[0] : none;
      }
      anomalyList[i] = ak === undefined || ak.length === 0 ? 0 : this.intern(ak);
      nums[o + POLL_INTERVAL] = e.pollInterval ?? NaN;
      nums[o + POLL_JITTER] = e.pollJitter ?? NaN;
      nums[o + MAX_GAP] = e.maxRequestGap;
      nums[o + RATE] = e.requestRate;
      nums[o + REQUESTS] = e.requests;
      const w = e.writes,
        v = e.values;
      if (w !== undefined && w !== null)
        for (const k in w)
          if (Object.hasOwn(w, k)) {
            this.writes.set(i, w);
            break;
          }
      if (v !== undefined && v !== null)
        for (const k in v)
          if (Object.hasOwn(v, k)) {
            this.values.set(i, v);
            break;
          }
    }
  }

  /** The profile of an edge when the edge first shows up (most of a large baseline may stay idle). */
  profileOf(addr: EdgeAddress): CompiledProfile | null {
    return this.profile(addr.id);
  }

  /** The profile of the edge with this id (as the baseline keys its edges). */
  profile(id: string): CompiledProfile | null {
    const i = this.byId.get(id);
    return i === undefined ? null : new CompiledProfile(this, i);
  }

  listAt(k: number): readonly string[] {
    return this.lists[k]!;
  }

  writesAt(i: number): Readonly<Record<string, Array<[number, number]>>> {
    return this.writes.get(i) ?? NO_WRITES;
  }

  valuesAt(i: number): Readonly<Record<string, [number, number]>> {
    return this.values.get(i) ?? NO_VALUES;
  }

  /**
   * Function sets by learned list: thousands of edges repeat a few lists (the same poll), so each list is
   * turned into numbers once and its set shared (read only) by every profile that learned it.
   */
  functionSetAt(i: number): Set<number> {
    const k = this.fnList[i]!;
    let fns = this.fnSets[k];
    if (fns === undefined) {
      fns = new Set<number>();
      for (const f of this.lists[k]!) fns.add(functionKeyOf(f));
      this.fnSets[k] = fns;
    }
    return fns;
  }

  protocolSetAt(i: number): Set<string> {
    const k = this.protoList[i]!;
    return (this.protoSets[k] ??= new Set(this.lists[k]));
  }

  /**
   * The index of a list equal to this one. A frozen copy is kept the first time it is seen: every edge that
   * learned it shares it, and evidence hands it out, so a push into it in place must throw rather than widen
   * the others' profiles; and the parsed baseline stays its owner's to change.
   */
  private intern(list: readonly string[] | undefined): number {
    if (list === undefined || list.length === 0) return 0;
    const text: unknown = list.length === 1 ? list[0] : list.join('\u0000');
    const k = this.listIndex.get(text);
    if (k !== undefined && sameList(this.lists[k]!, list)) return k;
    this.lists.push(Object.freeze(list.slice()));
    if (k === undefined) this.listIndex.set(text, this.lists.length - 1);
    return this.lists.length - 1;
  }
}

const EMPTY_LIST: readonly string[] = Object.freeze([]);

/** 'protocol:func' → functionKeyNumber. */
function functionKeyOf(k: string): number {
  const i = k.lastIndexOf(':');
  return functionKeyNumber(k.slice(0, i), Number(k.slice(i + 1)));
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Learned value ranges of a profile by space and address (the largest part of a profile, so built lazily). */
export function pointsOf(cp: CompiledProfile): Map<string, Map<number, [number, number]>> {
  return (cp.values ??= pointsBySpace(cp.learned.values));
}

/** 'space:address' keys from the baseline, regrouped so the hot path looks up numbers, not strings. */
function pointsBySpace(
  values: Readonly<Record<string, [number, number]>>,
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
