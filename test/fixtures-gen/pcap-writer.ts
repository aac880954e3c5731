// Builds frames and classic pcap files for crafted fixtures (protocols for which no real capture exists here).

export function mac(s: string): Buffer {
  return Buffer.from(s.replace(/:/g, ''), 'hex');
}

function ip4(s: string): Buffer {
  return Buffer.from(s.split('.').map(Number));
}

export function ethernet(dst: string, src: string, etherType: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  mac(dst).copy(h, 0);
  mac(src).copy(h, 6);
  h.writeUInt16BE(etherType, 12);
  return Buffer.concat([h, payload]);
}

/** 802.3 frame with an LLC/SNAP header (CDP and friends). */
export function llcSnap(
  dst: string,
  src: string,
  oui: number,
  pid: number,
  payload: Buffer,
): Buffer {
  const llc = Buffer.from([
    0xaa,
    0xaa,
    0x03,
    (oui >> 16) & 255,
    (oui >> 8) & 255,
    oui & 255,
    pid >> 8,
    pid & 255,
  ]);
  const h = Buffer.alloc(14);
  mac(dst).copy(h, 0);
  mac(src).copy(h, 6);
  h.writeUInt16BE(llc.length + payload.length, 12);
  return Buffer.concat([h, llc, payload]);
}

function ipv4(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = proto;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  h.writeUInt16BE(internetChecksum(h), 10);
  return Buffer.concat([h, payload]);
}

/** RFC 1071 one's-complement checksum (IPv4 header, CDP). */
export function internetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

export interface Endpoint {
  mac: string;
  ip: string;
  port: number;
}

export function udp(a: Endpoint, b: Endpoint, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(a.port, 0);
  h.writeUInt16BE(b.port, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return ethernet(b.mac, a.mac, 0x0800, ipv4(a.ip, b.ip, 17, Buffer.concat([h, payload])));
}

/** A TCP connection that keeps its own sequence numbers, so tshark reassembles what it sends. */
export class TcpFlow {
  private seqA = 1000;
  private seqB = 5000;
  constructor(
    private readonly a: Endpoint,
    private readonly b: Endpoint,
  ) {}

  private seg(fromA: boolean, flags: number, payload: Buffer): Buffer {
    const [s, d] = fromA ? [this.a, this.b] : [this.b, this.a];
    const h = Buffer.alloc(20);
    h.writeUInt16BE(s.port, 0);
    h.writeUInt16BE(d.port, 2);
    h.writeUInt32BE(fromA ? this.seqA : this.seqB, 4);
    h.writeUInt32BE(fromA ? this.seqB : this.seqA, 8);
    h[12] = 5 << 4;
    h[13] = flags;
    h.writeUInt16BE(65535, 14);
    const len = payload.length + (flags & 0x03 ? 1 : 0);
    if (fromA) this.seqA = (this.seqA + len) >>> 0;
    else this.seqB = (this.seqB + len) >>> 0;
    return ethernet(d.mac, s.mac, 0x0800, ipv4(s.ip, d.ip, 6, Buffer.concat([h, payload])));
  }

  handshake(): Buffer[] {
    return [
      this.seg(true, 0x02, Buffer.alloc(0)),
      this.seg(false, 0x12, Buffer.alloc(0)),
      this.seg(true, 0x10, Buffer.alloc(0)),
    ];
  }

  /** Data from the client (a) or the server (b), with PSH+ACK. */
  send(fromClient: boolean, payload: Buffer): Buffer {
    return this.seg(fromClient, 0x18, payload);
  }
}

/** A classic microsecond pcap of Ethernet frames, one every `step` seconds from `start`. */
export function pcap(frames: Buffer[], start = 1_767_225_600, step = 0.05): Buffer {
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(1, 20);
  const recs = frames.map((f, i) => {
    const t = start + i * step;
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(t), 0);
    h.writeUInt32LE(Math.round((t % 1) * 1e6) % 1_000_000, 4);
    h.writeUInt32LE(f.length, 8);
    h.writeUInt32LE(f.length, 12);
    return Buffer.concat([h, f]);
  });
  return Buffer.concat([gh, ...recs]);
}
