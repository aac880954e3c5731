import { ioDatagram } from '../fixtures-gen/enip-io.js';
import { TcpFlow, udp, type Endpoint } from '../fixtures-gen/pcap-writer.js';
import { sendRRData } from './ics-frames.js';

// EtherNet/IP I/O frames for the sharded tests: a Forward_Open reply mid-connection and class 1 datagrams between
// any two addresses (a multicast group too), crafted from the specification (CIP Vol 1 3-5.5.2, Vol 2 2-6.3).

const le16 = (n: number): number[] => [n & 255, (n >> 8) & 255];
const le32 = (n: number): number[] => [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255];

/** A successful Forward_Open reply: both connection ids, serials, both intervals (µs). */
export function forwardOpenReply(otId: number, toId: number, rpiUs: number): number[] {
  return [
    0xd4,
    0,
    0,
    0,
    ...le32(otId),
    ...le32(toId),
    ...le16(0x1234),
    ...le16(0x0001),
    ...le32(0x00abcdef),
    ...le32(rpiUs),
    ...le32(rpiUs),
    0,
    0,
  ];
}

/** An endpoint with a MAC derived from its address. */
export function host(ip: string, port: number): Endpoint {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  const mac = `02:00:${[a, b, c, d].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  return { mac, ip, port };
}

/**
 * The adapter's reply to the scanner's Forward_Open (intervals `rpiUs` both ways, default 10 ms), mid-connection
 * (its TCP session began before the capture).
 */
export function replyFrame(
  scanner: string,
  adapter: string,
  otId: number,
  toId: number,
  rpiUs = 10_000,
): Buffer {
  const flow = new TcpFlow(host(scanner, 50200), host(adapter, 44818));
  return flow.send(false, Buffer.from(sendRRData(0x0badf00d, forwardOpenReply(otId, toId, rpiUs))));
}

/** A class 1 datagram (UDP 2222) on connection `id` with sequence number `seq`. */
export function ioFrame(src: string, dst: string, id: number, seq: number): Buffer {
  return udp(host(src, 2222), host(dst, 2222), ioDatagram(id, seq, [1, 0, 0, 0, seq & 255, 0]));
}
