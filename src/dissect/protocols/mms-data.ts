// MMS `Data` (ISO 9506-2) values, shared by MMS read/report PDUs and IEC 61850 GOOSE/SV datasets: the scalars
// are collected as numbers (booleans 0/1, integers, floats, bit-strings as their first bytes), structures and
// arrays flattened in order, up to a cap so a hostile nesting costs bounded work.
import { newTlv, readTlv, berInt, berString, type Tlv } from './ber.js';

/** Data CHOICE tags (context class). */
export const DATA_ARRAY = 1,
  DATA_STRUCTURE = 2,
  DATA_BOOLEAN = 3,
  DATA_BIT_STRING = 4,
  DATA_INTEGER = 5,
  DATA_UNSIGNED = 6,
  DATA_FLOAT = 7,
  DATA_VISIBLE_STRING = 10,
  DATA_UTC_TIME = 17;

const MAX_DEPTH = 8;
const view = new DataView(new ArrayBuffer(8));

/** One Data scalar as a number, or NaN when it has none (strings, times, octet strings). */
export function dataNumber(b: Uint8Array, t: Tlv): number {
  const n = t.end - t.value;
  switch (t.tag) {
    case DATA_BOOLEAN:
      return n >= 1 ? (b[t.value] !== 0 ? 1 : 0) : NaN;
    case DATA_INTEGER:
      return berInt(b, t, true);
    case DATA_UNSIGNED:
      return berInt(b, t, false);
    case DATA_BIT_STRING: {
      // First byte: unused bits in the last byte; IEC 61850 quality and Dbpos fit in two bytes.
      if (n < 2 || n > 3) return NaN;
      let v = 0;
      for (let i = t.value + 1; i < t.end; i++) v = v * 256 + b[i]!;
      return v >> b[t.value]!;
    }
    case DATA_FLOAT: {
      // Exponent width byte, then an IEEE 754 single (5 bytes in all) or double (9).
      if (n === 5) {
        for (let i = 0; i < 4; i++) view.setUint8(i, b[t.value + 1 + i]!);
        return view.getFloat32(0);
      }
      if (n === 9) {
        for (let i = 0; i < 8; i++) view.setUint8(i, b[t.value + 1 + i]!);
        return view.getFloat64(0);
      }
      return NaN;
    }
    default:
      return NaN;
  }
}

/**
 * Collect the numbers of a sequence of Data elements in [o, end) into `out` (at most `max`); returns how many
 * Data elements there were at the top level, or -1 when the encoding breaks. `firstString` receives the first
 * visible-string (an IEC 61850 report's RptID).
 */
export function collectData(
  b: Uint8Array,
  o: number,
  end: number,
  out: number[],
  max: number,
  firstString?: { value: string | null },
  depth = 0,
): number {
  const t = newTlv();
  let count = 0;
  while (o < end) {
    if (!readTlv(b, o, end, t)) return -1;
    count++;
    if (t.cls === 2 && t.constructed && (t.tag === DATA_ARRAY || t.tag === DATA_STRUCTURE)) {
      if (depth < MAX_DEPTH && collectData(b, t.value, t.end, out, max, firstString, depth + 1) < 0)
        return -1;
    } else if (t.cls === 2 && !t.constructed) {
      if (t.tag === DATA_VISIBLE_STRING && firstString && firstString.value === null)
        firstString.value = berString(b, t);
      const v = dataNumber(b, t);
      if (!Number.isNaN(v) && out.length < max) out.push(v);
    }
    o = t.end;
  }
  return count;
}
