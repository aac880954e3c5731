import { u16be } from '../bytes.js';

/** TPKT (RFC 1006): version 3, reserved, 16-bit length including the 4-byte header. */
export function tpktLength(b: Uint8Array, off: number, avail: number): number {
  if (avail < 1) return 0;
  if (b[off] !== 3) return -1;
  if (avail < 4) return 0;
  const len = u16be(b, off + 2);
  return len < 7 ? -1 : len;
}

export const COTP_DT = 0xf0,
  COTP_CR = 0xe0,
  COTP_CC = 0xd0,
  COTP_DR = 0x80,
  COTP_DC = 0xc0,
  COTP_ED = 0x10,
  COTP_RJ = 0x50,
  COTP_AK = 0x60;

export interface Cotp {
  pduType: number;
  /** Offset and length of the user data after the COTP header. */
  dataOffset: number;
  dataLength: number;
  /** Last data unit flag of a DT TPDU (segmented S7 PDUs have it clear until the last). */
  eot: boolean;
  srcTsap: number;
  dstTsap: number;
}

/** Parse the COTP (ISO 8073) header inside a TPKT; null when it does not fit. */
export function parseCotp(b: Uint8Array, off: number, len: number): Cotp | null {
  if (len < 5) return null;
  const li = b[off + 4]!;
  if (li < 1 || 5 + li > len) return null;
  const type = b[off + 5]! & 0xf0;
  const r: Cotp = {
    pduType: type,
    dataOffset: off + 5 + li,
    dataLength: len - 5 - li,
    eot: true,
    srcTsap: -1,
    dstTsap: -1,
  };
  if (type === COTP_DT) r.eot = li >= 2 ? (b[off + 6]! & 0x80) !== 0 : true;
  if ((type === COTP_CR || type === COTP_CC) && li >= 6) {
    // Variable part: parameters (code, length, value); 0xc1 calling TSAP, 0xc2 called TSAP.
    for (let p = off + 5 + 7; p + 2 <= off + 5 + li; ) {
      const code = b[p]!,
        plen = b[p + 1]!;
      if (p + 2 + plen > off + 5 + li) break;
      if (plen === 2 && code === 0xc1) r.srcTsap = u16be(b, p + 2);
      if (plen === 2 && code === 0xc2) r.dstTsap = u16be(b, p + 2);
      p += 2 + plen;
    }
  }
  return r;
}
