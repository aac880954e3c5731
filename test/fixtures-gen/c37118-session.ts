// IEEE C37.118.2 frames crafted from the standard: a phasor data concentrator (PDC) asks a PMU for its
// configuration and header over TCP 4712, turns its data on, receives data, then turns it off; and the same PMU
// streaming data over UDP 4713.
import { pcap, TcpFlow, udp, type Endpoint } from './pcap-writer.js';

export const pdc: Endpoint = { mac: '02:00:5e:37:00:0a', ip: '10.37.0.10', port: 50712 };
export const pmu: Endpoint = { mac: '02:00:5e:37:00:14', ip: '10.37.0.20', port: 4712 };
const pmuUdp: Endpoint = { ...pmu, port: 4713 };
const pdcUdp: Endpoint = { ...pdc, port: 4713 };

const IDCODE = 7;
const SOC = 1_767_225_600;

function crc(b: Buffer): number {
  let c = 0xffff;
  for (const x of b) {
    c ^= x << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/** One frame: SYNC (0xAA, type, version 1), FRAMESIZE, IDCODE, SOC, FRACSEC, body, CHK. */
export function c37Frame(type: number, body: Buffer, fracsec = 0, idcode = IDCODE): Buffer {
  const h = Buffer.alloc(14);
  h[0] = 0xaa;
  h[1] = (type << 4) | 1;
  h.writeUInt16BE(14 + body.length + 2, 2);
  h.writeUInt16BE(idcode, 4);
  h.writeUInt32BE(SOC, 6);
  h.writeUInt32BE(fracsec, 10);
  const f = Buffer.concat([h, body]);
  const chk = Buffer.alloc(2);
  chk.writeUInt16BE(crc(f), 0);
  return Buffer.concat([f, chk]);
}

export const command = (cmd: number): Buffer => c37Frame(4, Buffer.from([cmd >> 8, cmd & 255]));

const name16 = (s: string): Buffer => {
  const b = Buffer.alloc(16, 0x20);
  b.write(s, 'latin1');
  return b;
};

/** CFG-2: one PMU, two phasors (VA, IA), one analog, no digitals; 16-bit rectangular; 30 frames/s. */
export function config2(): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 0x0f, 0x42, 0x40]), // TIME_BASE 1 000 000
    Buffer.from([0, 1]), // NUM_PMU
    name16('SUB1 BAY3 PMU'),
    Buffer.from([0, IDCODE, 0, 0, 0, 2, 0, 1, 0, 0]), // IDCODE, FORMAT, PHNMR, ANNMR, DGNMR
    name16('VA'),
    name16('IA'),
    name16('MW'),
    Buffer.from([0, 0, 0x03, 0xe8, 1, 0, 0, 0x64, 0, 0, 0, 1]), // PHUNIT ×2, ANUNIT
    Buffer.from([0, 0, 0, 1]), // FNOM 60 Hz, CFGCNT 1
    Buffer.from([0, 30]), // DATA_RATE
  ]);
  return c37Frame(3, body);
}

/** A data frame for that configuration: STAT, 2 phasors, FREQ, DFREQ, 1 analog. */
export function data(n: number): Buffer {
  const b = Buffer.alloc(2 + 8 + 4 + 2);
  b.writeInt16BE(1000 + n, 2);
  b.writeInt16BE(50, 10);
  b.writeInt16BE(42, 14);
  return c37Frame(0, b, n * 33333);
}

export function c37118Session(): Buffer {
  const f = new TcpFlow(pdc, pmu);
  const frames = [
    ...f.handshake(),
    f.send(true, command(5)),
    f.send(false, config2()),
    f.send(true, command(3)),
    f.send(false, c37Frame(1, Buffer.from('Substation 1 bay 3 PMU, firmware 2.1', 'latin1'))),
    f.send(true, command(2)),
    f.send(false, data(0)),
    f.send(false, data(1)),
    f.send(true, command(1)),
  ];
  for (let i = 2; i < 5; i++) frames.push(udp(pmuUdp, pdcUdp, data(i)));
  return pcap(frames, SOC, 0.02);
}
