import { u16le, u32le } from '../bytes.js';

/** Longest string Weir decodes from a message (names, URIs); longer ones are skipped, not copied. */
const MAX_TEXT = 512;
/** Nesting bound for recursive encodings (DiagnosticInfo, Variant in DataValue): hostile depth is an overrun. */
const MAX_DEPTH = 8;
const utf8 = new TextDecoder('utf-8', { fatal: false });
/** Node ids must keep every byte: invalid UTF-8 read as U+FFFD would make two ids one address. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A cursor over OPC UA Binary (Part 6 §5.2): little-endian scalars, int32-length strings (-1 = null), NodeIds in
 * their six encodings. Reading past the end sets `overrun` and returns neutral values, so a decoder walks on
 * without checks at every step and tests `overrun` once.
 */
export class UaReader {
  overrun = false;
  constructor(
    readonly b: Uint8Array,
    public p: number,
    readonly end: number,
  ) {}

  private need(n: number): boolean {
    if (this.overrun || n < 0 || this.p + n > this.end) {
      this.overrun = true;
      this.p = this.end;
      return false;
    }
    return true;
  }

  skip(n: number): void {
    if (this.need(n)) this.p += n;
  }
  u8(): number {
    return this.need(1) ? this.b[this.p++]! : 0;
  }
  u16(): number {
    if (!this.need(2)) return 0;
    const v = u16le(this.b, this.p);
    this.p += 2;
    return v;
  }
  u32(): number {
    if (!this.need(4)) return 0;
    const v = u32le(this.b, this.p);
    this.p += 4;
    return v;
  }
  i32(): number {
    return this.u32() | 0;
  }
  f64(): number {
    if (!this.need(8)) return 0;
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.p, 8).getFloat64(0, true);
    this.p += 8;
    return v;
  }

  /** A String or ByteString's length; -1 (null) and 0 read as empty. */
  private length(): number {
    const n = this.i32();
    return n < 0 ? 0 : n;
  }
  /** A UTF-8 String, null as ''. Text beyond MAX_TEXT bytes is skipped. */
  string(): string {
    const n = this.length();
    if (!this.need(n)) return '';
    const s = utf8.decode(this.b.subarray(this.p, this.p + Math.min(n, MAX_TEXT)));
    this.p += n;
    return s;
  }
  /** Skip a String, ByteString or XmlElement. */
  skipBytes(): number {
    const n = this.length();
    this.skip(n);
    return n;
  }
  /** An array's element count (-1 = null array reads as 0); a count the rest cannot hold is an overrun. */
  count(minSize: number): number {
    const n = this.i32();
    if (n <= 0) return 0;
    if (n * minSize > this.end - this.p) {
      this.overrun = true;
      this.p = this.end;
      return 0;
    }
    return n;
  }

  /**
   * A NodeId as text ('i=2258', 'ns=1;s=Setpoint', 'ns=3;b=<base64>'); numeric ids also give `lastNumeric`,
   * else -1. `lastExact` is false when the text does not stand for that one id alone (a string id longer than
   * MAX_TEXT bytes or not valid UTF-8, an opaque id longer than MAX_TEXT): such an id cannot be held to a list.
   */
  lastNumeric = -1;
  lastNamespace = 0;
  lastExact = true;
  nodeId(): string {
    const enc = this.u8();
    return this.nodeIdBody(enc & 0x0f);
  }
  private nodeIdBody(kind: number): string {
    this.lastNumeric = -1;
    this.lastExact = true;
    let ns = 0,
      id: string;
    switch (kind) {
      case 0:
        this.lastNumeric = this.u8();
        id = `i=${this.lastNumeric}`;
        break;
      case 1:
        ns = this.u8();
        this.lastNumeric = this.u16();
        id = `i=${this.lastNumeric}`;
        break;
      case 2:
        ns = this.u16();
        this.lastNumeric = this.u32();
        id = `i=${this.lastNumeric}`;
        break;
      case 3:
        ns = this.u16();
        id = `s=${this.idText()}`;
        break;
      case 4:
        ns = this.u16();
        id = `g=${this.guid()}`;
        break;
      case 5:
        ns = this.u16();
        id = `b=${this.opaqueId()}`;
        break;
      default:
        this.overrun = true;
        this.p = this.end;
        return '';
    }
    this.lastNamespace = ns;
    return ns === 0 ? id : `ns=${ns};${id}`;
  }
  /** A string NodeId's text, whole; too long or not UTF-8 clears `lastExact` (the text is then a prefix). */
  private idText(): string {
    const n = this.length();
    if (!this.need(n)) return '';
    const bytes = this.b.subarray(this.p, this.p + Math.min(n, MAX_TEXT));
    this.p += n;
    if (n > MAX_TEXT) this.lastExact = false;
    try {
      return strictUtf8.decode(bytes);
    } catch {
      this.lastExact = false;
      return utf8.decode(bytes);
    }
  }
  /** An opaque (ByteString) NodeId in base64, as OPC UA writes it (Part 6 §5.3.1.10). */
  private opaqueId(): string {
    const n = this.length();
    if (!this.need(n)) return '';
    const at = this.p;
    this.p += n;
    if (n > MAX_TEXT) {
      this.lastExact = false;
      return `${n}bytes`;
    }
    return Buffer.from(this.b.buffer, this.b.byteOffset + at, n).toString('base64');
  }
  private guid(): string {
    if (!this.need(16)) return '';
    const h = (o: number, n: number) =>
      Array.from(this.b.subarray(this.p + o, this.p + o + n), (x) =>
        x.toString(16).padStart(2, '0'),
      );
    const d1 = u32le(this.b, this.p).toString(16).padStart(8, '0');
    const d2 = u16le(this.b, this.p + 4)
      .toString(16)
      .padStart(4, '0');
    const d3 = u16le(this.b, this.p + 6)
      .toString(16)
      .padStart(4, '0');
    const s = `${d1}-${d2}-${d3}-${h(8, 2).join('')}-${h(10, 6).join('')}`;
    this.p += 16;
    return s;
  }
  /** ExpandedNodeId: a NodeId whose flags may add a namespace URI and a server index. */
  expandedNodeId(): string {
    const enc = this.u8();
    const id = this.nodeIdBody(enc & 0x0f);
    if (enc & 0x80) this.skipBytes();
    if (enc & 0x40) this.skip(4);
    return id;
  }
  /** LocalizedText's text (the locale is skipped). */
  localizedText(): string {
    const mask = this.u8();
    if (mask & 0x01) this.skipBytes();
    return mask & 0x02 ? this.string() : '';
  }
  qualifiedName(): string {
    this.skip(2);
    return this.string();
  }
  diagnosticInfo(depth = 0): void {
    if (depth > MAX_DEPTH) {
      this.overrun = true;
      return;
    }
    const mask = this.u8();
    if (mask & 0x01) this.skip(4);
    if (mask & 0x02) this.skip(4);
    if (mask & 0x08) this.skip(4);
    if (mask & 0x04) this.skip(4);
    if (mask & 0x10) this.skipBytes();
    if (mask & 0x20) this.skip(4);
    if (mask & 0x40) this.diagnosticInfo(depth + 1);
  }
  /** ExtensionObject: its TypeId's numeric id (-1 when not numeric) and where its binary body lies. */
  extensionObject(): { type: number; body: number; size: number } {
    this.nodeId();
    const type = this.lastNamespace === 0 ? this.lastNumeric : -1;
    const enc = this.u8();
    if (enc === 0) return { type, body: this.p, size: 0 };
    const n = this.length();
    const body = this.p;
    this.skip(n);
    return { type, body, size: n };
  }

  /** RequestHeader (Part 4 §7.28): authentication token, timestamp, handle, diagnostics, audit id, timeout, extra. */
  requestHeader(): number {
    this.nodeId();
    this.skip(8);
    const handle = this.u32();
    this.skip(4);
    this.skipBytes();
    this.skip(4);
    this.extensionObject();
    return handle;
  }
  /** ResponseHeader (Part 4 §7.29); returns the service result (a StatusCode). */
  responseHeader(): number {
    this.skip(8 + 4);
    const result = this.u32();
    this.diagnosticInfo();
    for (let i = 0, n = this.count(4); i < n && !this.overrun; i++) this.skipBytes();
    this.extensionObject();
    return result;
  }

  /**
   * A Variant. Numbers of a scalar (or the first of an array) go to `values`; the ExtensionObjects it holds go to
   * `objects`. Returns false when the encoding is one Weir cannot size (the rest of the body is then unknown).
   */
  variant(values: number[] | null, objects: ExtObj[] | null, depth = 0): boolean {
    if (depth > MAX_DEPTH) {
      this.overrun = true;
      return false;
    }
    const enc = this.u8();
    const type = enc & 0x3f;
    // Every element takes a byte or more except Null, which takes none: an array of Null longer than the bytes
    // left is malformed, or its walk would cost up to 2^31 turns for a 5-byte count (review 14, G1).
    const n = enc & 0x80 ? this.count(1) : 1;
    if (type !== 0)
      for (let i = 0; i < n && !this.overrun; i++)
        if (!this.scalar(type, i === 0 ? values : null, objects, depth)) return false;
    if (enc & 0x40) for (let i = 0, d = this.count(4); i < d; i++) this.skip(4);
    return !this.overrun;
  }
  private scalar(
    type: number,
    values: number[] | null,
    objects: ExtObj[] | null,
    depth: number,
  ): boolean {
    const start = this.p;
    switch (type) {
      case 0:
        return true;
      case 1:
      case 2:
      case 3: {
        const v = this.u8();
        values?.push(type === 2 ? (v << 24) >> 24 : v);
        return true;
      }
      case 4:
      case 5: {
        const v = this.u16();
        values?.push(type === 4 ? (v << 16) >> 16 : v);
        return true;
      }
      case 6:
      case 7: {
        const v = this.u32();
        values?.push(type === 6 ? v | 0 : v);
        return true;
      }
      case 10: {
        if (this.need(4)) {
          values?.push(
            new DataView(this.b.buffer, this.b.byteOffset + start, 4).getFloat32(0, true),
          );
          this.p += 4;
        }
        return true;
      }
      case 11:
        values?.push(this.f64());
        return true;
      case 8:
      case 9:
      case 13:
        this.skip(8);
        return true;
      case 12:
      case 15:
      case 16:
        this.skipBytes();
        return true;
      case 14:
        this.skip(16);
        return true;
      case 17:
        this.nodeId();
        return true;
      case 18:
        this.expandedNodeId();
        return true;
      case 19:
        this.skip(4);
        return true;
      case 20:
        this.qualifiedName();
        return true;
      case 21:
        this.localizedText();
        return true;
      case 22: {
        const o = this.extensionObject();
        objects?.push(o);
        return true;
      }
      case 23:
        return this.dataValue(values, objects, depth + 1);
      case 24:
        return this.variant(values, objects, depth + 1);
      case 25:
        this.diagnosticInfo();
        return true;
      default:
        return false;
    }
  }
  /** DataValue: value, status, timestamps and picoseconds as its mask says. */
  dataValue(values: number[] | null, objects: ExtObj[] | null, depth = 0): boolean {
    const mask = this.u8();
    if (mask & 0x01 && !this.variant(values, objects, depth)) return false;
    if (mask & 0x02) this.skip(4);
    if (mask & 0x04) this.skip(8);
    if (mask & 0x10) this.skip(2);
    if (mask & 0x08) this.skip(8);
    if (mask & 0x20) this.skip(2);
    return !this.overrun;
  }
}

/** An ExtensionObject found in a value: its encoding id and binary body. */
export interface ExtObj {
  type: number;
  body: number;
  size: number;
}
