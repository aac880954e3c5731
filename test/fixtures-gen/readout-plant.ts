// A plant large enough that reading the inventory out in order matters (thousands of edges over hundreds of
// hosts, IPv4 addresses that sort differently as text and as numbers, IPv6 twins, a scan, many clients of one
// server, writes as well as reads), written deterministically: the streamed read-out is compared byte for byte
// with what the eager one printed for the same file.
import { ethernet, pcap, TcpFlow, udp, type Endpoint } from './pcap-writer.js';

const macOf = (i: number): string =>
  `02:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:01`;
const ipOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const host = (i: number, port: number): Endpoint => ({ mac: macOf(i), ip: ipOf(i), port });

/** Modbus/TCP read holding registers (FC 3) or write multiple registers (FC 16) and its reply. */
function modbus(tx: number, write: boolean, start: number): [Buffer, Buffer] {
  const pdu = write
    ? Buffer.from([16, start >> 8, start & 255, 0, 2, 4, 0, 1, 0, 2])
    : Buffer.from([3, start >> 8, start & 255, 0, 4]);
  const reply = write
    ? Buffer.from([16, start >> 8, start & 255, 0, 2])
    : Buffer.from([3, 8, 0, 1, 0, 2, 0, 3, 0, 4]);
  const mbap = (p: Buffer): Buffer => {
    const h = Buffer.alloc(7);
    h.writeUInt16BE(tx & 0xffff, 0);
    h.writeUInt16BE(p.length + 1, 4);
    h[6] = 1;
    return Buffer.concat([h, p]);
  };
  return [mbap(pdu), mbap(reply)];
}

/** An IPv6 link-local UDP datagram from the same NIC as an IPv4 host (its twin address). */
function ipv6Udp(i: number, dstPort: number): Buffer {
  const src = Buffer.alloc(16),
    dst = Buffer.alloc(16);
  src.writeUInt16BE(0xfe80, 0);
  src.writeUInt32BE(i, 12);
  dst.writeUInt16BE(0xff02, 0);
  dst[15] = 1;
  const u = Buffer.alloc(8 + 4);
  u.writeUInt16BE(40000 + (i % 1000), 0);
  u.writeUInt16BE(dstPort, 2);
  u.writeUInt16BE(u.length, 4);
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(u.length, 4);
  h[6] = 17;
  h[7] = 64;
  src.copy(h, 8);
  dst.copy(h, 24);
  return ethernet('33:33:00:00:00:01', macOf(i), 0x86dd, Buffer.concat([h, u]));
}

export function readoutPlant(hosts = 600, serversEvery = 7): Buffer {
  const frames: Buffer[] = [];
  let tx = 1;
  // Servers at every seventh address (9 and 10 sort apart as text and as numbers: .9 < .10 < .100).
  for (let c = 1; c <= hosts; c++) {
    if (c % serversEvery === 0) continue;
    for (let k = 0; k < 3; k++) {
      const s = (((c * 31 + k * 97) % Math.floor(hosts / serversEvery)) + 1) * serversEvery;
      const flow = new TcpFlow(host(c, 1024 + ((c * 3 + k) % 50000)), host(s, 502));
      frames.push(...flow.handshake());
      for (let r = 0; r < 3; r++) {
        const [q, a] = modbus(tx++, (c + r) % 11 === 0, (k * 100 + r * 4) & 0xffff);
        frames.push(flow.send(true, q), flow.send(false, a));
      }
    }
  }
  // One server with many clients (a historian), some over UDP.
  const hub = host(hosts + 1, 502);
  for (let c = 1; c <= hosts; c += 2)
    frames.push(udp(host(c, 5000 + c), { ...hub, port: 161 }, Buffer.from([0x30, 0])));
  // A scan: one client, one server, many ports with SYNs only.
  const scanner = hosts + 2;
  for (let p = 1; p <= 120; p++)
    frames.push(...new TcpFlow(host(scanner, 40000), host(14, p)).handshake().slice(0, 1));
  // IPv6 twins of some hosts.
  for (let i = 3; i <= hosts; i += 37) frames.push(ipv6Udp(i, 5353));
  return pcap(frames, 1_767_225_600, 0.001);
}
