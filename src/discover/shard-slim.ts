import type { IdentityFacts, Message } from '../dissect/message.js';

/**
 * The slim messages of one chunk (see copyAssetMessage) as columns: numbers in one Float64Array, strings as
 * indexes into a table both ends keep (a worker sends only the strings it has not sent before), identity facts
 * as (key, value) index pairs. On the benchmark input 51,000 such messages (BACnet I-Ams and errors) travel;
 * as JSON they were 23 MB of text to write, clone and parse, as columns they are about 6 MB of numbers over a
 * few thousand distinct strings.
 */
export interface SlimColumns {
  n: number;
  /** Per message NUMS values: tag frame, frame, ts, srcPort, dstPort, func, subfunc, unit, txId, exception, write. */
  num: Float64Array;
  /** Per message STRS string indexes: protocol, transport, srcMac, dstMac, srcIp, dstIp, role, funcName, then identity pairs' start and count (-1: none). */
  str: Int32Array;
  /** Identity (key, value) string index pairs. */
  ids: Int32Array;
  /** Strings first used in this chunk, numbered on from the last chunk's. */
  strings: string[];
}

const NUMS = 11,
  STRS = 10;

/** Whether the message's identity facts are all text (anything else travels as a cloned object). */
export function slimIdentity(m: Message): boolean {
  const id = m.identity;
  if (id === null) return true;
  for (const k in id) {
    const v = id[k as keyof IdentityFacts];
    if (v !== undefined && typeof v !== 'string') return false;
  }
  return true;
}

/** Writes slim messages into columns, a worker's string table kept across chunks. */
export class SlimWriter {
  private readonly table = new Map<string, number>();
  private fresh: string[] = [];
  private num = new Float64Array(NUMS * 256);
  private str = new Int32Array(STRS * 256);
  private ids = new Int32Array(512);
  private n = 0;
  private nIds = 0;

  get count(): number {
    return this.n;
  }

  private s(v: string): number {
    let i = this.table.get(v);
    if (i === undefined) {
      i = this.table.size;
      this.table.set(v, i);
      this.fresh.push(v);
    }
    return i;
  }

  /** Adds the message (read now: the pipeline may reuse it); `f` is the frame that produced it. */
  push(f: number, m: Message): void {
    if ((this.n + 1) * NUMS > this.num.length) {
      const num = new Float64Array(this.num.length * 2);
      num.set(this.num);
      this.num = num;
      const str = new Int32Array(this.str.length * 2);
      str.set(this.str);
      this.str = str;
    }
    const a = this.num,
      o = this.n * NUMS;
    a[o] = f;
    a[o + 1] = m.frame;
    a[o + 2] = m.ts;
    a[o + 3] = m.srcPort;
    a[o + 4] = m.dstPort;
    a[o + 5] = m.func;
    a[o + 6] = m.subfunc;
    a[o + 7] = m.unit;
    a[o + 8] = m.txId;
    a[o + 9] = m.exception;
    a[o + 10] = m.write ? 1 : 0;
    const b = this.str,
      p = this.n * STRS;
    b[p] = this.s(m.protocol);
    b[p + 1] = this.s(m.transport);
    b[p + 2] = this.s(m.srcMac);
    b[p + 3] = this.s(m.dstMac);
    b[p + 4] = this.s(m.srcIp);
    b[p + 5] = this.s(m.dstIp);
    b[p + 6] = this.s(m.role);
    b[p + 7] = this.s(m.funcName);
    const id = m.identity;
    if (id === null) {
      b[p + 8] = -1;
      b[p + 9] = 0;
    } else {
      const start = this.nIds;
      for (const k in id) {
        const v = id[k as keyof IdentityFacts];
        // As JSON would: a key whose value is undefined is not there.
        if (v === undefined) continue;
        if (this.nIds + 2 > this.ids.length) {
          const ids = new Int32Array(this.ids.length * 2);
          ids.set(this.ids);
          this.ids = ids;
        }
        this.ids[this.nIds++] = this.s(k);
        this.ids[this.nIds++] = this.s(v);
      }
      b[p + 8] = start;
      b[p + 9] = (this.nIds - start) / 2;
    }
    this.n++;
  }

  /** This chunk's columns (copies sized to fit); the writer starts the next chunk. */
  take(): SlimColumns {
    const out: SlimColumns = {
      n: this.n,
      num: this.num.slice(0, this.n * NUMS),
      str: this.str.slice(0, this.n * STRS),
      ids: this.ids.slice(0, this.nIds),
      strings: this.fresh,
    };
    this.fresh = [];
    this.n = 0;
    this.nIds = 0;
    return out;
  }
}

/**
 * A whole number read from a Float64Array as a small integer where it is one. Every Message shares one hidden
 * class, and a double stored into a field that only ever held small integers turns that field into a boxed
 * number for all of them: the dissectors on the main thread then allocated a heap number per field they set.
 */
function int(x: number): number {
  return (x | 0) === x ? x | 0 : x;
}

/** Reads one worker's columns back into messages, in its order; keeps that worker's string table. */
export class SlimReader {
  private readonly table: string[] = [];

  read(c: SlimColumns): { f: number; m: Message }[] {
    const t = this.table;
    for (const s of c.strings) t.push(s);
    const out: { f: number; m: Message }[] = new Array(c.n);
    const a = c.num,
      b = c.str,
      ids = c.ids;
    for (let i = 0; i < c.n; i++) {
      const o = i * NUMS,
        p = i * STRS;
      let identity: IdentityFacts | null = null;
      const start = b[p + 8]!;
      if (start >= 0) {
        const id: Record<string, string> = {};
        for (let j = start, end = start + 2 * b[p + 9]!; j < end; j += 2)
          id[t[ids[j]!]!] = t[ids[j + 1]!]!;
        identity = id as IdentityFacts;
      }
      // The fields and key order of copyAssetMessage's copy (and so of every Message: one shape).
      const m: Message = {
        frame: int(a[o + 1]),
        ts: a[o + 2]!,
        protocol: t[b[p]!] as Message['protocol'],
        transport: t[b[p + 1]!] as Message['transport'],
        srcMac: t[b[p + 2]!]!,
        dstMac: t[b[p + 3]!]!,
        srcIp: t[b[p + 4]!]!,
        dstIp: t[b[p + 5]!]!,
        srcPort: int(a[o + 3]),
        dstPort: int(a[o + 4]),
        role: t[b[p + 6]!] as Message['role'],
        func: int(a[o + 5]),
        funcName: t[b[p + 7]!]!,
        subfunc: int(a[o + 6]),
        unit: int(a[o + 7]),
        txId: int(a[o + 8]),
        exception: int(a[o + 9]),
        write: a[o + 10] === 1,
        targets: null,
        values: null,
        identity,
        anomaly: null,
        fields: null,
      };
      out[i] = { f: int(a[o]!), m };
    }
    return out;
  }
}
