// Identity-protocol frames crafted from their public specifications, for tests verified against tshark.
import {
  ethernet,
  internetChecksum,
  llcSnap,
  mac,
  pcap,
  udp,
  type Endpoint,
} from './pcap-writer.js';

const SWITCH = '02:00:5e:10:00:01';
const PLC = '02:1b:1b:00:00:15';
const HMI = '02:50:56:00:00:77';
const SERVER = '02:00:00:00:00:01';

function tlv(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE((type << 9) | value.length);
  return Buffer.concat([h, value]);
}

function lldp(): Buffer {
  const mgmt = Buffer.from([5, 1, 10, 50, 0, 2, 2, 0, 0, 0, 1, 0]);
  const caps = Buffer.from([0x00, 0x04, 0x00, 0x04]); // bridge, enabled
  const body = Buffer.concat([
    tlv(1, Buffer.concat([Buffer.from([4]), mac(SWITCH)])),
    tlv(2, Buffer.from('\x05port-003', 'latin1')),
    tlv(3, Buffer.from([0, 120])),
    tlv(4, Buffer.from('Siemens, SIMATIC NET, Ethernet Port, X1 P3')),
    tlv(5, Buffer.from('scalance-cell1')),
    tlv(
      6,
      Buffer.from(
        'Siemens, SIMATIC NET, SCALANCE XC206-2, 6GK5 206-2BB00-2AC2, HW: Version 2, FW: Version V04.02.01',
      ),
    ),
    tlv(7, caps),
    tlv(8, mgmt),
    Buffer.from([0, 0]),
  ]);
  return ethernet('01:80:c2:00:00:0e', SWITCH, 0x88cc, body);
}

function cdp(): Buffer {
  const t = (type: number, v: Buffer) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(type);
    h.writeUInt16BE(4 + v.length, 2);
    return Buffer.concat([h, v]);
  };
  const addr = Buffer.from([0, 0, 0, 1, 1, 1, 0xcc, 0, 4, 10, 50, 0, 3]);
  const caps = Buffer.from([0, 0, 0, 0x28]);
  const pdu = Buffer.concat([
    Buffer.from([2, 180, 0, 0]),
    t(1, Buffer.from('ie3000-line2')),
    t(2, addr),
    t(3, Buffer.from('FastEthernet1/3')),
    t(4, caps),
    t(
      5,
      Buffer.from(
        'Cisco IOS Software, IE3000 Software (IE3000-IPSERVICESK9-M), Version 15.2(4)EA9, RELEASE SOFTWARE (fc1)',
      ),
    ),
    t(6, Buffer.from('cisco IE-3000-8TC')),
  ]);
  pdu.writeUInt16BE(internetChecksum(pdu), 2);
  return llcSnap('01:00:0c:cc:cc:cc', '02:00:0c:00:00:03', 0x00000c, 0x2000, pdu);
}

function dcpBlock(opt: number, sub: number, value: Buffer): Buffer {
  const h = Buffer.from([opt, sub, 0, 0]);
  h.writeUInt16BE(value.length, 2);
  const pad = value.length & 1 ? Buffer.from([0]) : Buffer.alloc(0);
  return Buffer.concat([h, value, pad]);
}

function dcpIdentify(): Buffer[] {
  const req = Buffer.concat([
    Buffer.from([0xfe, 0xfe, 5, 0, 0, 0, 0, 0x2a, 0, 1, 0, 4]),
    Buffer.from([0xff, 0xff, 0, 0]),
  ]);
  const blocks = Buffer.concat([
    dcpBlock(2, 1, Buffer.concat([Buffer.from([0, 0]), Buffer.from('S7-1500')])),
    dcpBlock(2, 2, Buffer.concat([Buffer.from([0, 0]), Buffer.from('plc-line2')])),
    dcpBlock(2, 3, Buffer.from([0, 0, 0x00, 0x2a, 0x01, 0x0e])),
    dcpBlock(2, 4, Buffer.from([0, 0, 0x02, 0x00])),
    dcpBlock(1, 2, Buffer.from([0, 1, 10, 50, 0, 21, 255, 255, 255, 0, 10, 50, 0, 1])),
  ]);
  const hdr = Buffer.from([0xfe, 0xff, 5, 1, 0, 0, 0, 0x2a, 0, 0, 0, 0]);
  hdr.writeUInt16BE(blocks.length, 10);
  return [
    ethernet('01:0e:cf:00:00:00', HMI, 0x8892, req),
    ethernet(HMI, PLC, 0x8892, Buffer.concat([hdr, blocks])),
  ];
}

function bootp(op: number, chaddr: string, yiaddr: number[], options: number[][]): Buffer {
  const b = Buffer.alloc(240);
  b[0] = op;
  b[1] = 1;
  b[2] = 6;
  b.writeUInt32BE(0x3903f326, 4);
  Buffer.from(yiaddr).copy(b, 16);
  mac(chaddr).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  return Buffer.concat([b, Buffer.from(options.flat()), Buffer.from([255])]);
}

function dhcp(): Buffer[] {
  const client: Endpoint = { mac: HMI, ip: '0.0.0.0', port: 68 };
  const bcast: Endpoint = { mac: 'ff:ff:ff:ff:ff:ff', ip: '255.255.255.255', port: 67 };
  const server: Endpoint = { mac: SERVER, ip: '10.50.0.1', port: 67 };
  const host = [...Buffer.from('HMI-2')];
  const vendor = [...Buffer.from('MSFT 5.0')];
  return [
    udp(
      client,
      bcast,
      bootp(
        1,
        HMI,
        [0, 0, 0, 0],
        [
          [53, 1, 1],
          [12, host.length, ...host],
          [60, vendor.length, ...vendor],
          [55, 4, 1, 3, 6, 15],
        ],
      ),
    ),
    udp(
      client,
      bcast,
      bootp(
        1,
        HMI,
        [0, 0, 0, 0],
        [
          [53, 1, 3],
          [50, 4, 10, 50, 0, 77],
          [54, 4, 10, 50, 0, 1],
          [12, host.length, ...host],
        ],
      ),
    ),
    udp(
      server,
      { mac: HMI, ip: '10.50.0.77', port: 68 },
      bootp(
        2,
        HMI,
        [10, 50, 0, 77],
        [
          [53, 1, 5],
          [54, 4, 10, 50, 0, 1],
          [1, 4, 255, 255, 255, 0],
          [3, 4, 10, 50, 0, 1],
        ],
      ),
    ),
  ];
}

function arp(op: number, sha: string, spa: number[], tha: string, tpa: number[]): Buffer {
  const b = Buffer.from([0, 1, 8, 0, 6, 4, 0, op]);
  return ethernet(
    op === 1 ? 'ff:ff:ff:ff:ff:ff' : tha,
    sha,
    0x0806,
    Buffer.concat([b, mac(sha), Buffer.from(spa), mac(tha), Buffer.from(tpa)]),
  );
}

function nbName(name: string, suffix: number): Buffer {
  const raw = Buffer.alloc(16, 0x20);
  raw.write(name.toUpperCase());
  raw[15] = suffix;
  const enc = [0x20];
  for (const c of raw) enc.push(0x41 + (c >> 4), 0x41 + (c & 15));
  return Buffer.from([...enc, 0]);
}

function nbns(): Buffer {
  const hdr = Buffer.from([0x80, 0x01, 0x29, 0x10, 0, 1, 0, 0, 0, 0, 0, 1]);
  const q = Buffer.concat([nbName('EWS-01', 0x00), Buffer.from([0, 0x20, 0, 1])]);
  const rr = Buffer.from([
    0xc0, 0x0c, 0, 0x20, 0, 1, 0, 0x04, 0x93, 0xe0, 0, 6, 0, 0, 10, 50, 0, 30,
  ]);
  return udp(
    { mac: '02:00:00:00:00:30', ip: '10.50.0.30', port: 137 },
    { mac: 'ff:ff:ff:ff:ff:ff', ip: '10.50.0.255', port: 137 },
    Buffer.concat([hdr, q, rr]),
  );
}

function mdns(): Buffer {
  const name = Buffer.from([5, ...Buffer.from('hmi-2'), 5, ...Buffer.from('local'), 0]);
  const msg = Buffer.concat([
    Buffer.from([0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
    name,
    Buffer.from([0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 50, 0, 77]),
  ]);
  return udp(
    { mac: HMI, ip: '10.50.0.77', port: 5353 },
    { mac: '01:00:5e:00:00:fb', ip: '224.0.0.251', port: 5353 },
    msg,
  );
}

export function identityFrames(): Buffer {
  return pcap([
    lldp(),
    cdp(),
    ...dcpIdentify(),
    ...dhcp(),
    arp(1, PLC, [10, 50, 0, 21], '00:00:00:00:00:00', [10, 50, 0, 1]),
    arp(2, SERVER, [10, 50, 0, 1], PLC, [10, 50, 0, 21]),
    arp(1, HMI, [10, 50, 0, 77], '00:00:00:00:00:00', [10, 50, 0, 77]),
    nbns(),
    mdns(),
  ]);
}
