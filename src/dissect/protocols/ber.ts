// A minimal, bounds-checked BER (X.690) reader for the OSI stack on port 102 (presentation, ACSE, MMS) and for
// IEC 61850 GOOSE/SV: reads one tag-length-value at a time with offsets into the frame, no copies.
import { ascii } from '../bytes.js';

/** One BER element: class (0 universal, 1 application, 2 context, 3 private), tag number, where its value is. */
export interface Tlv {
  cls: number;
  constructed: boolean;
  tag: number;
  /** Offset of the value and its end (exclusive); `next` is where the following element starts. */
  value: number;
  end: number;
}

/**
 * Read the element at `o` (must end by `limit`) into `t`; false when it does not fit, uses the indefinite form
 * (never in these protocols' DER-like encodings) or has a tag or length beyond 32 bits.
 */
export function readTlv(b: Uint8Array, o: number, limit: number, t: Tlv): boolean {
  if (o + 2 > limit) return false;
  const id = b[o++]!;
  t.cls = id >> 6;
  t.constructed = (id & 0x20) !== 0;
  let tag = id & 0x1f;
  if (tag === 0x1f) {
    tag = 0;
    for (let i = 0; ; i++) {
      if (o >= limit || i > 3) return false;
      const c = b[o++]!;
      tag = tag * 128 + (c & 0x7f);
      if ((c & 0x80) === 0) break;
    }
  }
  t.tag = tag;
  if (o >= limit) return false;
  let len = b[o++]!;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || o + n > limit) return false;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[o++]!;
  }
  if (o + len > limit) return false;
  t.value = o;
  t.end = o + len;
  return true;
}

export function newTlv(): Tlv {
  return { cls: 0, constructed: false, tag: 0, value: 0, end: 0 };
}

/** The value of an INTEGER of up to 6 bytes (two's complement when `signed`); NaN when empty or longer. */
export function berInt(b: Uint8Array, t: Tlv, signed = false): number {
  const n = t.end - t.value;
  if (n < 1 || n > 6) return NaN;
  let v = 0;
  for (let i = t.value; i < t.end; i++) v = v * 256 + b[i]!;
  return signed && b[t.value]! & 0x80 ? v - 256 ** n : v;
}

/** A string value (VisibleString, GraphicString…) as printable text. */
export function berString(b: Uint8Array, t: Tlv): string {
  return ascii(b, t.value, t.end - t.value);
}
