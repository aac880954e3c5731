import type { IdentityFacts } from '../message.js';

/** S7comm-plus datatype of a WString value (an attribute's string form, UTF-8 with a VLQ length). */
const DATATYPE_WSTRING = 0x15;
/**
 * The version string of a CreateObject response's ServerSessionVersion attribute (id 306), e.g.
 * "1;6ES7 214-1HE30-0XB0 ;V2.2": an index, the Siemens order number (MLFB), the firmware version.
 */
const SESSION_VERSION = /^\d+;\s*(6[A-Z]{2}\d[ 0-9A-Z-]*?)\s*;\s*(V\d+(?:\.\d+)*)$/;

/** S7 families by the order number's product group (6ES7 21x: S7-1200 CPUs, 6ES7 51x: S7-1500 CPUs). */
function family(order: string): string | undefined {
  if (/^6ES7\s?21/.test(order)) return 'S7-1200';
  if (/^6ES7\s?51/.test(order)) return 'S7-1500';
  return undefined;
}

/**
 * The PLC's order number and firmware from a CreateObject response, found as the WString values of its
 * attributes (short strings only: a one-byte VLQ length). Returns null when the response carries none.
 */
export function serverSessionIdentity(b: Uint8Array, p: number, end: number): IdentityFacts | null {
  for (let i = p; i + 2 < end; i++) {
    if (b[i] !== DATATYPE_WSTRING) continue;
    const len = b[i + 1]!;
    if (len < 8 || len >= 0x80 || i + 2 + len > end) continue;
    let text = '';
    for (let k = i + 2; k < i + 2 + len; k++) {
      const c = b[k]!;
      if (c < 0x20 || c > 0x7e) {
        text = '';
        break;
      }
      text += String.fromCharCode(c);
    }
    const hit = SESSION_VERSION.exec(text);
    if (hit === null) continue;
    const id: IdentityFacts = { vendor: 'Siemens', model: hit[1]!, firmware: hit[2]! };
    const fam = family(hit[1]!);
    if (fam !== undefined) id.product = fam;
    return id;
  }
  return null;
}
