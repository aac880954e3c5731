// A MELSEC SLMP (MC protocol 3E binary) session crafted from SH-080956ENG: an engineering station reads the CPU
// model, reads D100..D102, writes D200, stops the CPU and starts it again. tshark 4.0 has no SLMP dissector; the
// frames are the ones test/dissect/vectors/slmp-3e.vec annotates byte by byte.
import { pcap, TcpFlow } from './pcap-writer.js';

const PORT = 5007;
const ROUTE = [0x00, 0xff, 0xff, 0x03, 0x00];
const le16 = (n: number): number[] => [n & 0xff, n >> 8];

function request(command: number, sub: number, data: number[]): Buffer {
  const body = [0x10, 0x00, ...le16(command), ...le16(sub), ...data];
  return Buffer.from([0x50, 0x00, ...ROUTE, ...le16(body.length), ...body]);
}

function response(endCode: number, data: number[]): Buffer {
  const body = [...le16(endCode), ...data];
  return Buffer.from([0xd0, 0x00, ...ROUTE, ...le16(body.length), ...body]);
}

export function slmpSession(): Buffer {
  const f = new TcpFlow(
    { mac: '02:00:00:00:50:1e', ip: '10.57.0.30', port: 50700 },
    { mac: '02:00:00:00:50:14', ip: '10.57.0.20', port: PORT },
  );
  return pcap([
    ...f.handshake(),
    f.send(true, request(0x0101, 0, [])),
    f.send(false, response(0, [...Buffer.from('Q03UDVCPU       ', 'ascii'), ...le16(0x0366)])),
    f.send(true, request(0x0401, 0, [100, 0, 0, 0xa8, ...le16(3)])),
    f.send(false, response(0, [...le16(10), ...le16(20), ...le16(30)])),
    f.send(true, request(0x1401, 0, [200, 0, 0, 0xa8, ...le16(1), ...le16(1500)])),
    f.send(false, response(0, [])),
    f.send(true, request(0x1002, 0, le16(1))),
    f.send(false, response(0, [])),
    f.send(true, request(0x1001, 0, [...le16(1), 0, 0])),
    f.send(false, response(0, [])),
  ]);
}
