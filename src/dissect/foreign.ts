import { u16be, u32be } from './bytes.js';

/**
 * Which well-known protocol a payload is, by a cheap signature at its start, when it is not the industrial
 * protocol its port promises (TLS, HTTP, DCE/RPC, ONC RPC/NFS, RDP, SMB, SSH). Null when none matches.
 */
export function foreignProtocol(b: Uint8Array, off: number, end: number): string | null {
  const n = end - off;
  if (n < 4) return null;
  const b0 = b[off]!,
    b1 = b[off + 1]!,
    b2 = b[off + 2]!;
  // TLS record: content type 20–23, version 3.x.
  if (b0 >= 0x14 && b0 <= 0x17 && b1 === 0x03 && b2 <= 0x04) return 'tls';
  // SSLv2-style ClientHello (high bit length, type 1, version 3.x).
  if ((b0 & 0x80) !== 0 && b2 === 0x01 && n >= 5 && b[off + 3] === 0x03) return 'tls';
  if (startsWith(b, off, end, 'SSH-')) return 'ssh';
  for (const m of ['GET ', 'POST ', 'HEAD ', 'PUT ', 'OPTIONS ', 'DELETE ', 'CONNECT ', 'HTTP/1.'])
    if (startsWith(b, off, end, m)) return 'http';
  // DCE/RPC connection-oriented: version 5.0/5.1, PDU type 0–20, little-endian ASCII data representation
  // (0x10 0 0 0, what every Windows stack sends) and a fragment length that covers at least the header.
  if (
    b0 === 5 &&
    (b1 === 0 || b1 === 1) &&
    b2 <= 20 &&
    n >= 16 &&
    b[off + 4] === 0x10 &&
    b[off + 5] === 0 &&
    b[off + 6] === 0 &&
    b[off + 7] === 0 &&
    (b[off + 8]! | (b[off + 9]! << 8)) >= 16
  )
    return 'dcerpc';
  // ONC RPC over TCP: record mark (last fragment bit), xid, CALL (0), RPC version 2, then the program.
  if (n >= 24 && (b0 & 0x80) !== 0 && u32be(b, off + 8) === 0 && u32be(b, off + 12) === 2) {
    const prog = u32be(b, off + 16);
    return prog === 100003
      ? 'nfs'
      : prog === 100005
        ? 'nfs-mount'
        : prog === 100000
          ? 'portmap'
          : 'onc-rpc';
  }
  // SMB over NetBIOS session service: session message, then \xffSMB or \xfeSMB.
  if (
    b0 === 0 &&
    n >= 8 &&
    (b[off + 4] === 0xff || b[off + 4] === 0xfe) &&
    startsWith(b, off + 5, end, 'SMB')
  )
    return 'smb';
  // RDP: TPKT + COTP connection request carrying the mstshash cookie or an RDP negotiation request.
  if (b0 === 3 && b1 === 0 && n >= 11 && b[off + 5] === 0xe0 && isRdp(b, off, end)) return 'rdp';
  return null;
}

/** A TPKT/COTP CR whose user data is an RDP cookie or negotiation request (S7 and MMS carry TSAPs instead). */
export function isRdp(b: Uint8Array, off: number, end: number): boolean {
  const len = Math.min(end - off, u16be(b, off + 2));
  const ud = off + 11;
  if (startsWith(b, ud, off + len, 'Cookie: mstshash=')) return true;
  // rdpNegReq: type 1, flags, length 8 at the end of the TPDU.
  const neg = off + len - 8;
  return neg >= ud && b[neg] === 0x01 && b[neg + 2] === 0x08 && b[neg + 3] === 0x00;
}

function startsWith(b: Uint8Array, off: number, end: number, s: string): boolean {
  if (end - off < s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[off + i] !== s.charCodeAt(i)) return false;
  return true;
}
