import type { CaptureSummary, Frame, FrameSink } from './frame.js';
import { newFrame } from './frame.js';
import { countKind } from './counts.js';

/** Records longer than this are corrupt, whatever the header claims (pcapng max is far smaller in practice). */
const MAX_RECORD = 256 * 1024 * 1024;

/** Bytes of a new chunk copied at a time behind a carried record to complete it (most records are far shorter). */
const CARRY_STEP = 4096;

/** Distinct unknown block types kept as evidence; the count itself has one key whatever the types. */
const MAX_BLOCK_TYPES_LISTED = 8;

const PCAP_US_LE = 0xa1b2c3d4,
  PCAP_NS_LE = 0xa1b23c4d,
  PCAPNG_SHB = 0x0a0d0d0a,
  BOM = 0x1a2b3c4d;

interface Iface {
  linkType: number;
  snapLen: number;
  tsDiv: number;
  tsMulPow2: number;
  tsOffset: number;
}

/**
 * Push parser for pcap and pcapng: `feed` bytes as they arrive (file chunks, stdin, a tcpdump pipe); each
 * complete record is delivered at once through one reused Frame that points into the chunk (bytes are
 * copied only when a record spans chunks). `end` reports totals and, for truncated or corrupt input, where
 * and why parsing stopped — every good frame before that point has been delivered.
 */
export class CaptureParser {
  private carry: Uint8Array = new Uint8Array(0);
  private carryLen = 0;
  private consumed = 0;
  private format: 'pcap' | 'pcapng' | null = null;
  private le = true;
  private nsPcap = false;
  private ifaces: Iface[] = [];
  private halted = false;
  private readonly frame: Frame = newFrame();
  private readonly summary: CaptureSummary = {
    format: 'pcap',
    frames: 0,
    bytes: 0,
    linkTypes: [],
    error: null,
    anomalies: {},
    unknownBlockTypes: [],
    capped: {},
  };

  constructor(private readonly sink: FrameSink) {}

  /**
   * Bytes fed but not yet parsed (the start of a record that continues in the next chunk): the next feed
   * parses them followed by that chunk, in one buffer, so its frames lie at the same offsets as in a copy of
   * the last `pending` bytes fed followed by the chunk.
   */
  get pending(): number {
    return this.carryLen;
  }

  /** True once the input was rejected or found corrupt: nothing more will be parsed, so stop reading. */
  get stopped(): boolean {
    return this.halted;
  }

  feed(input: Uint8Array): void {
    if (this.halted || input.length === 0) return;
    // Frames are views of a chunk or of the carry (a plain Uint8Array), as are the reassembly buffers behind
    // them: a Node Buffer chunk (streams, readSync) is viewed as a plain Uint8Array too, so every dissector's
    // byte reads see one object layout. A Buffer is another V8 map: the first frame read from the carry (a
    // record across a chunk boundary) threw away the optimised DNP3 and BACnet dissectors ("wrong map").
    const chunk =
      input.constructor === Uint8Array
        ? input
        : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    this.summary.bytes += chunk.length;
    let rest = chunk;
    // A record spans the chunk boundary: complete it in the carry with this chunk's bytes, a step at a time, then
    // parse the rest of the chunk where it lies. (Copying the whole chunk behind the carry, as before, copied
    // nearly every byte of a file read in chunks once more.)
    while (this.carryLen > 0 && rest.length > 0) {
      const old = this.carryLen;
      const k = Math.min(rest.length, CARRY_STEP);
      const need = old + k;
      if (this.carry.length < need) {
        const grown = new Uint8Array(Math.max(need, this.carry.length * 2));
        grown.set(this.carry.subarray(0, old));
        this.carry = grown;
      }
      this.carry.set(k === rest.length ? rest : rest.subarray(0, k), old);
      const used = this.parse(this.carry.subarray(0, need));
      if (this.halted) return;
      if (used >= old) {
        // The carried record is complete: the chunk's bytes past what the carry consumed are parsed in place.
        this.carryLen = 0;
        rest = rest.subarray(used - old);
      } else {
        if (used > 0) this.carry.copyWithin(0, used, need);
        this.carryLen = need - used;
        rest = rest.subarray(k);
      }
    }
    if (rest.length > 0) this.parseChunk(rest);
  }

  private parseChunk(chunk: Uint8Array): void {
    const used = this.parse(chunk);
    if (this.halted) return;
    const rest = chunk.length - used;
    if (rest > 0) {
      if (this.carry.length < rest) this.carry = new Uint8Array(Math.max(rest, 65536));
      this.carry.set(chunk.subarray(used));
      this.carryLen = rest;
    }
  }

  end(): CaptureSummary {
    const s = this.summary;
    if (!this.halted) {
      if (this.format === null) {
        this.fail(
          0,
          this.summary.bytes === 0 ? 'empty input' : 'input ends inside the file header',
        );
      } else if (this.carryLen > 0) {
        this.fail(
          this.consumed,
          `truncated ${this.format === 'pcap' ? 'record' : 'block'}: ${this.carryLen} bytes left at end of input`,
        );
      }
    }
    s.format = this.format ?? 'pcap';
    s.linkTypes = this.ifaces.map((i) => i.linkType);
    return s;
  }

  private fail(at: number, reason: string): void {
    this.halted = true;
    this.summary.error = { byteOffset: at, framesBefore: this.summary.frames, reason };
  }

  private count(what: string): void {
    countKind(this.summary.anomalies, what, this.summary.capped);
  }

  /** One anomaly key for every unknown block type (a random-type flood must not make a key per type). */
  private unknownBlock(type: number): void {
    this.count('pcapng_block_unknown_skipped');
    const list = this.summary.unknownBlockTypes;
    if (list.length < MAX_BLOCK_TYPES_LISTED) {
      const hex = `0x${type.toString(16)}`;
      if (!list.includes(hex)) list.push(hex);
    }
  }

  /** Parse whole records from b; returns bytes consumed. */
  private parse(b: Uint8Array): number {
    let off = 0;
    if (this.format === null) {
      if (b.length < 4) return 0;
      const m = u32(b, 0, true);
      if (
        m === PCAP_US_LE ||
        m === PCAP_NS_LE ||
        u32(b, 0, false) === PCAP_US_LE ||
        u32(b, 0, false) === PCAP_NS_LE
      ) {
        if (b.length < 24) return 0;
        this.format = 'pcap';
        this.le = m === PCAP_US_LE || m === PCAP_NS_LE;
        this.nsPcap = u32(b, 0, this.le) === PCAP_NS_LE;
        const snap = u32(b, 16, this.le);
        // Upper bits of the link-type field carry FCS information (pcap spec); the type is the low 16 bits.
        this.ifaces.push({
          linkType: u32(b, 20, this.le) & 0xffff,
          snapLen: snap,
          tsDiv: this.nsPcap ? 1e9 : 1e6,
          tsMulPow2: 0,
          tsOffset: 0,
        });
        off = 24;
        this.consumed += 24;
      } else if (m === PCAPNG_SHB) {
        this.format = 'pcapng';
      } else {
        this.fail(0, `not a pcap or pcapng file (magic 0x${m.toString(16).padStart(8, '0')})`);
        return b.length;
      }
    }
    return this.format === 'pcap' ? this.parsePcap(b, off) : this.parsePcapng(b, off);
  }

  private parsePcap(b: Uint8Array, off: number): number {
    const le = this.le,
      iface = this.ifaces[0]!,
      frame = this.frame,
      sink = this.sink;
    const div = iface.tsDiv;
    const limit = Math.max(iface.snapLen, 262144);
    while (b.length - off >= 16) {
      const incl = u32(b, off + 8, le);
      if (incl > limit || incl > MAX_RECORD) {
        this.fail(this.consumed, `record length ${incl} exceeds snap length ${iface.snapLen}`);
        return b.length;
      }
      if (b.length - off < 16 + incl) break;
      const s = this.summary;
      frame.index = ++s.frames;
      frame.ts = u32(b, off, le) + u32(b, off + 4, le) / div;
      frame.linkType = iface.linkType;
      frame.iface = 0;
      frame.data = b;
      frame.offset = off + 16;
      frame.capLen = incl;
      frame.origLen = u32(b, off + 12, le);
      off += 16 + incl;
      this.consumed += 16 + incl;
      sink(frame);
    }
    return off;
  }

  private parsePcapng(b: Uint8Array, off: number): number {
    while (b.length - off >= 12) {
      let le = this.le;
      const type = u32(b, off, le);
      if (type === PCAPNG_SHB || u32(b, off, !le) === PCAPNG_SHB) {
        if (b.length - off < 12) break;
        const bom = u32(b, off + 8, true);
        if (bom === BOM) le = true;
        else if (u32(b, off + 8, false) === BOM) le = false;
        else {
          this.fail(this.consumed, 'section header with an unknown byte-order magic');
          return b.length;
        }
        this.le = le;
      }
      const len = u32(b, off + 4, le);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
        this.fail(this.consumed, `block length ${len} is invalid`);
        return b.length;
      }
      if (b.length - off < len) break;
      if (u32(b, off + len - 4, le) !== len) {
        this.fail(this.consumed, `block trailer length does not match header (${len})`);
        return b.length;
      }
      const blockType = u32(b, off, le);
      switch (blockType) {
        case PCAPNG_SHB:
          this.ifaces = [];
          break;
        case 1:
          this.idb(b, off, len);
          break;
        case 6:
          this.epb(
            b,
            off,
            len,
            28,
            u32(b, off + 8, le),
            u32(b, off + 20, le),
            u32(b, off + 24, le),
          );
          break;
        case 3:
          this.spb(b, off, len);
          break;
        case 2:
          this.epb(
            b,
            off,
            len,
            28,
            u16(b, off + 8, le),
            u32(b, off + 20, le),
            u32(b, off + 24, le),
          );
          break;
        default:
          this.unknownBlock(blockType);
      }
      if (this.halted) return b.length;
      off += len;
      this.consumed += len;
    }
    return off;
  }

  private idb(b: Uint8Array, off: number, len: number): void {
    const le = this.le;
    const iface: Iface = {
      linkType: u16(b, off + 8, le),
      snapLen: u32(b, off + 12, le),
      tsDiv: 1e6,
      tsMulPow2: 0,
      tsOffset: 0,
    };
    // Options: if_tsresol (9) and if_tsoffset (14).
    let o = off + 16;
    const end = off + len - 4;
    while (o + 4 <= end) {
      const code = u16(b, o, le),
        olen = u16(b, o + 2, le);
      if (code === 0) break;
      if (o + 4 + olen > end) {
        this.count('pcapng_option_truncated');
        break;
      }
      if (code === 9 && olen >= 1) {
        const r = b[o + 4]!;
        if (r & 0x80) {
          iface.tsDiv = 1;
          iface.tsMulPow2 = r & 0x7f;
        } else iface.tsDiv = 10 ** r;
      } else if (code === 14 && olen >= 8) {
        iface.tsOffset = le
          ? u32(b, o + 4, true) + u32(b, o + 8, true) * 4294967296
          : u32(b, o + 8, false) + u32(b, o + 4, false) * 4294967296;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
  }

  private epb(
    b: Uint8Array,
    off: number,
    len: number,
    dataAt: number,
    ifIndex: number,
    capLen: number,
    origLen: number,
  ): void {
    const le = this.le;
    const iface = this.ifaces[ifIndex];
    if (iface === undefined) {
      this.fail(this.consumed, `packet block for undeclared interface ${ifIndex}`);
      return;
    }
    if (dataAt + capLen > len - 4) {
      this.fail(this.consumed, `captured length ${capLen} overruns its block`);
      return;
    }
    const hi = u32(b, off + 12, le),
      lo = u32(b, off + 16, le);
    const units = hi * 4294967296 + lo;
    const ts = iface.tsMulPow2 ? units / 2 ** iface.tsMulPow2 : tsFromUnits(hi, lo, iface.tsDiv);
    this.deliver(b, off + dataAt, capLen, origLen, ts + iface.tsOffset, ifIndex, iface.linkType);
  }

  private spb(b: Uint8Array, off: number, len: number): void {
    const iface = this.ifaces[0];
    if (iface === undefined) {
      this.fail(this.consumed, 'simple packet block before any interface');
      return;
    }
    const origLen = u32(b, off + 8, this.le);
    const capLen = Math.min(origLen, len - 16, iface.snapLen || Infinity);
    this.deliver(b, off + 12, capLen, origLen, 0, 0, iface.linkType);
  }

  private deliver(
    b: Uint8Array,
    at: number,
    capLen: number,
    origLen: number,
    ts: number,
    iface: number,
    linkType: number,
  ): void {
    const f = this.frame;
    f.index = ++this.summary.frames;
    f.ts = ts;
    f.linkType = linkType;
    f.iface = iface;
    f.data = b;
    f.offset = at;
    f.capLen = capLen;
    f.origLen = origLen;
    this.sink(f);
  }
}

/** Seconds from a 64-bit count of 1/div units, split so precision is not lost above 2^53 units. */
function tsFromUnits(hi: number, lo: number, div: number): number {
  const units = hi * 4294967296 + lo;
  if (units < Number.MAX_SAFE_INTEGER) {
    const sec = Math.floor(units / div);
    return sec + (units - sec * div) / div;
  }
  const big = (BigInt(hi) << 32n) | BigInt(lo);
  const d = BigInt(div);
  return Number(big / d) + Number(big % d) / div;
}

function u32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
    : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function u16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
}

export function createCaptureParser(sink: FrameSink): {
  feed(chunk: Uint8Array): void;
  end(): CaptureSummary;
} {
  const p = new CaptureParser(sink);
  return { feed: (c) => p.feed(c), end: () => p.end() };
}
