import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveIdentity, registerValue } from '../../src/deceive/derive.js';
import { Rng } from '../../src/deceive/random.js';
import { S7Decoy } from '../../src/deceive/s7.js';
import { ModbusDecoy } from '../../src/deceive/modbus.js';
import { EnipDecoy } from '../../src/deceive/enip.js';
import { BacnetDecoy } from '../../src/deceive/bacnet.js';
import { httpAnswer } from '../../src/deceive/http.js';
import { placementProblems } from '../../src/policy/decoy-placement.js';
import { rotationEpoch, slots } from '../../src/deceive/rotation.js';
import { parsePolicy } from '../../src/policy/load.js';
import { vendorOf } from '../../src/discover/oui.js';
import type { Asset } from '../../src/discover/model.js';
import type { Baseline } from '../../src/discover/baseline.js';
import type { DecoySet } from '../../src/policy/decoy-model.js';

/**
 * Conpot's public default identities (mushorg/conpot, conpot/templates/default: template.xml, s7comm.xml,
 * modbus.xml, enip.xml, bacnet.xml, the HTTP template's headers) — the strings scanner plugins and Shodan-style
 * honeypot checks match on. Facts as data; no Conpot code.
 */
const CONPOT_DEFAULTS = [
  'Technodrome', // S7 SZL 0x1C system name
  '88111222', // S7 serial
  'Mouser Factory', // S7 plant identification
  'Siemens, SIMATIC, S7-200', // S7 module name
  'IM151-8 PN/DP CPU', // S7 module type
  'SIMATIC', // Modbus device identification product code (with vendor Siemens, revision S7-200)
  'S7-200',
  '1756-L61/B LOGIX5561', // EtherNet/IP product name (serial 7079450, product code 90)
  'Alerton Technologies', // BACnet vendor name (instance 36113)
  'VAV-DD Controller',
  'VAV Dual Duct Controller',
  'Building 1',
  'Tue, 19 May 1993', // HTTP Last-Modified
  'Venus', // SNMP location
];

/** A Siemens CPU as discovery stores it after an engineering station read its SZLs (the lab's snap7 PLC). */
const s7Plc = {
  ips: ['10.77.0.22'],
  mac: '00:1b:1b:0a:0b:0c',
  macVendor: 'Siemens',
  hostnames: ['SNAP7-SERVER'],
  identity: {
    vendor: 'Siemens',
    product: 'CPU 315-2 PN/DP',
    model: 'CPU 315-2 PN/DP',
    hardware: '6ES7 315-2EH14-0AB0',
    firmware: 'V3.2.6',
    serial: 'S C-C2UR28922012',
  },
  serves: ['s7comm'],
} as unknown as Asset;

function s7Exchange(d: S7Decoy, hex: string): Buffer {
  const r = d.feed(Buffer.from(hex, 'hex'));
  assert.ok(r && r.out.length === 1);
  return r.out[0]!;
}

test("a decoy cloned from a plant's S7 CPU: the same class, a unit of its own, none of Conpot's default identity", () => {
  const id = deriveIdentity({
    clone: s7Plc,
    zone: [s7Plc],
    values: {},
    ip: '10.77.0.54',
    services: ['s7comm', 'modbus', 'enip', 'bacnet', 'http'],
    rng: new Rng('t1'),
  });
  // Same vendor and family, same firmware; serial of the same shape but not the real one; MAC in the clone's OUI.
  assert.equal(id.s7.orderNumber, '6ES7 315-2EH14-0AB0');
  assert.deepEqual(id.s7.version, [3, 2, 6]);
  assert.notEqual(id.serial, s7Plc.identity.serial);
  assert.equal(id.serial.length, s7Plc.identity.serial!.length);
  assert.match(id.serial, /^S C-[A-Z0-9]{12}$/);
  assert.equal(id.mac.slice(0, 8), '00:1b:1b');
  assert.notEqual(id.mac, s7Plc.mac);
  assert.match(vendorOf(id.mac) ?? '', /^Siemens/);
  // Another rotation period: another unit of the same class.
  const next = deriveIdentity({
    clone: s7Plc,
    zone: [s7Plc],
    values: {},
    ip: '10.77.0.55',
    services: ['s7comm'],
    rng: new Rng('t2'),
  });
  assert.notEqual(next.serial, id.serial);
  assert.notEqual(next.mac, id.mac);
  assert.equal(next.s7.orderNumber, id.s7.orderNumber);

  // Everything the decoy says, as scanners ask it (nmap s7-info's own requests; modbus-discover's; ListIdentity;
  // bacnet-info's ReadProperty of each device property; the web page): no Conpot default anywhere.
  const s7 = new S7Decoy(id);
  s7Exchange(s7, '0300001611e00000001400c1020100c2020102c0010a');
  s7Exchange(s7, '0300001902f08032010000000000080000f0000001000101e0');
  const szl11 = s7Exchange(
    s7,
    '0300002102f080320700000000000800080001120411440100ff09000400110001',
  );
  const szl1c = s7Exchange(
    s7,
    '0300002102f080320700000000000800080001120411440100ff090004001c0001',
  );
  // s7-info's offsets: module order number at byte 44, version at 123 (1-based); serial at 180 of the 0x1C answer.
  assert.equal(szl11.toString('latin1', 43, 62).trim(), '6ES7 315-2EH14-0AB0');
  assert.deepEqual([...szl11.subarray(122, 125)], [3, 2, 6]);
  assert.equal(szl1c.toString('latin1', 179, 179 + id.serial.length), id.serial);
  const mb = new ModbusDecoy(id);
  const mbOut = mb.feed(Buffer.from('000000000005012b0e0100', 'hex')).out;
  const said = [
    szl11,
    szl1c,
    ...mbOut,
    ...mb.feed(Buffer.from('00000000000201' + '11', 'hex')).out,
    new EnipDecoy(id).datagram(
      Buffer.from('63000000000000000000000000000000c1debed100000000', 'hex'),
    )!,
    ...[0x4d, 0x79, 0x46, 0x2c, 0x0c, 0x1c, 0x3a].map(
      (p) =>
        new BacnetDecoy(id).datagram(
          Buffer.from(`810a001101040005010c0c023fffff19${p.toString(16).padStart(2, '0')}`, 'hex'),
        )!,
    ),
    Buffer.from(httpAnswer(id, 'GET / HTTP/1.0\r\n\r\n')!),
  ].map((b) => b.toString('latin1'));
  assert.equal(said.length, 13);
  for (const d of CONPOT_DEFAULTS)
    for (const s of said) assert.ok(!s.includes(d), `decoy says Conpot's default '${d}'`);
  assert.ok(said.some((s) => s.includes('CPU 315-2 PN/DP')));
});

test('register values move over time within the band the real device showed, never a constant', () => {
  const id = deriveIdentity({
    clone: { ...s7Plc, serves: ['modbus'] } as unknown as Asset,
    zone: [],
    values: { 'holding_register:0': [100, 140], 'holding_register:1': [2000, 2100] },
    ip: '10.77.0.51',
    services: ['modbus'],
    rng: new Rng('regs'),
  });
  let t = 1_800_000_000;
  const mb = new ModbusDecoy(id, () => t);
  const read = (): number[] => {
    const r = mb.feed(Buffer.from('000100000006010300000002', 'hex')).out[0]!;
    return [r.readUInt16BE(9), r.readUInt16BE(11)];
  };
  const seen: number[][] = [];
  for (let i = 0; i < 60; i++, t += 13) seen.push(read());
  const r0 = seen.map((s) => s[0]!),
    r1 = seen.map((s) => s[1]!);
  assert.ok(new Set(r0).size > 5 && new Set(r1).size > 5, 'values change');
  assert.ok(
    Math.min(...r0) >= 95 && Math.max(...r0) <= 145,
    `register 0 in band: ${Math.min(...r0)}..${Math.max(...r0)}`,
  );
  assert.ok(Math.min(...r1) >= 1990 && Math.max(...r1) <= 2110);
  assert.equal(registerValue(undefined, 0, 0), 0);
});

test('responders take hostile input without crashing: truncated, oversized and random bytes', () => {
  const id = deriveIdentity({
    clone: s7Plc,
    zone: [],
    values: {},
    ip: '10.0.0.9',
    services: ['s7comm'],
    rng: new Rng('x'),
  });
  const rng = new Rng('fuzz');
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(rng.int(0, 80));
    for (let k = 0; k < b.length; k++) b[k] = rng.int(0, 255);
    if (i % 3 === 0 && b.length > 4) b[0] = 3; // TPKT-looking
    new S7Decoy(id).feed(b);
    new ModbusDecoy(id).feed(b);
    new EnipDecoy(id).feed(b);
    new EnipDecoy(id).datagram(b);
    new BacnetDecoy(id).datagram(b);
    httpAnswer(id, b.toString('latin1'));
  }
});

const POLICY = (decoys: string): string => `weir: policy/1
assets:
  - { name: PLC-1, ip: 10.1.0.21 }
  - { name: HMI-1, ip: 10.1.1.10 }
windows:
  - { name: change, days: [sat], from: "02:00", to: "04:00" }
zones:
  - { name: control, members: [10.1.0.0/24] }
  - { name: supervisory, members: [HMI-1] }
decoys:
${decoys}`;

test('the decoys: section: addresses inside the zone, never a named asset, each in one set; clear errors with lines', () => {
  const ok = parsePolicy(
    POLICY(
      `  - { name: d1, zone: control, clone: [PLC-1], addresses: [10.1.0.50, 10.1.0.51], active: 1, rotate: { windows: [change] } }`,
    ),
    'p.yaml',
  );
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.errors));
  assert.deepEqual(ok.policy.decoys![0]!.pool, ['10.1.0.50', '10.1.0.51']);
  assert.deepEqual(ok.policy.decoys![0]!.clone, ['10.1.0.21']);
  const bad = parsePolicy(
    POLICY(`  - name: d1
    zone: control
    addresses: [10.1.0.21, 10.1.1.99, not-an-ip, 10.1.0.60]
    active: 5
    rotate: { every: 10s, windows: [nope] }
  - { name: d2, zone: nowhere, addresses: [10.1.0.60] }`),
    'p.yaml',
  );
  assert.ok(!bad.ok);
  const msgs = bad.errors.map((e) => `${e.line}:${e.field}: ${e.message}`).join('\n');
  for (const m of [
    /10\.1\.0\.21 is asset 'PLC-1'/,
    /10\.1\.1\.99 is not in zone 'control'/,
    /'not-an-ip' is not an IP address/,
    /5 decoys at once need at least as many addresses/,
    /decoys move at most once a minute/,
    /no window named 'nope'/,
    /no zone named 'nowhere'/,
    /10\.1\.0\.60 is already an address of decoy set 'd1'/,
  ])
    assert.match(msgs, m);
});

test('an address any baseline flow uses can never become a decoy', () => {
  const set: DecoySet = {
    name: 'd',
    zone: 'control',
    clone: [],
    services: ['modbus'],
    pool: ['10.1.0.50', '10.1.0.77', '10.1.0.88'],
    active: 1,
  };
  const baseline = {
    version: 3,
    assets: ['10.1.0.21', '10.1.0.88'],
    macs: {},
    edges: { e: { client: '10.1.0.77', server: '10.1.0.21', transport: 'tcp', port: 502 } },
  } as unknown as Baseline;
  const p = placementProblems([set], baseline);
  assert.deepEqual(
    p.map((x) => x.address),
    ['10.1.0.77', '10.1.0.88'],
  );
  assert.match(
    p[0]!.message,
    /10\.1\.0\.77 is used by baseline flow 10\.1\.0\.77 → 10\.1\.0\.21 tcp\/502/,
  );
});

test('rotation: periods by `every` and by the change window; each period its own addresses, reproducible with the secret', () => {
  const set: DecoySet = {
    name: 'd',
    zone: 'z',
    clone: [],
    services: ['modbus', 'http'],
    pool: Array.from({ length: 8 }, (_, i) => `10.1.0.${50 + i}`),
    active: 2,
    rotate: { every: 3600 },
  };
  assert.equal(rotationEpoch(set, 7200, []), 2);
  assert.equal(rotationEpoch(set, 10799, []), 2);
  assert.deepEqual(slots(set, 5, 's'), slots(set, 5, 's'));
  const seen = new Set<string>();
  for (let e = 0; e < 20; e++) for (const s of slots(set, e, 's')) seen.add(s.ip);
  assert.ok(seen.size >= 6, 'the decoys visit most of the pool');
  assert.notDeepEqual(slots(set, 5, 's'), slots(set, 5, 'other secret'));
  const win = { name: 'change', days: ['sat' as const], from: 120, to: 240, timezone: 'UTC' };
  const byWindow = { ...set, rotate: { windows: ['change'] } };
  const sat0230 = Date.parse('2026-11-28T02:30:00Z') / 1000; // a Saturday
  const e1 = rotationEpoch(byWindow, sat0230, [win]);
  assert.equal(e1, Date.parse('2026-11-28T02:00:00Z') / 60000);
  assert.equal(
    rotationEpoch(byWindow, sat0230 + 3 * 86400, [win]),
    e1,
    'same period until the next window',
  );
  assert.notEqual(rotationEpoch(byWindow, sat0230 + 7 * 86400, [win]), e1);
});

test('a policy with decoys survives writing it back as YAML', async () => {
  const { policyToYaml } = await import('../../src/policy/write.js');
  const r = parsePolicy(
    POLICY(
      `  - { name: d1, zone: control, clone: [PLC-1], services: [modbus, http], addresses: [10.1.0.50, 10.1.0.51], active: 1, rotate: { every: 1d, windows: [change] } }`,
    ),
    'p.yaml',
  );
  assert.ok(r.ok);
  const again = parsePolicy(policyToYaml(r.policy), 'again.yaml');
  assert.ok(again.ok, JSON.stringify(!again.ok && again.errors));
  assert.deepEqual(again.policy.decoys, r.policy.decoys);
});

test('EtherNet/IP: RegisterSession, then Get_Attribute_All of the identity object over SendRRData; BACnet Who-Is → I-Am', () => {
  const id = deriveIdentity({
    clone: {
      ...s7Plc,
      identity: { ...s7Plc.identity, vendor: 'Rockwell Automation/Allen-Bradley' },
    } as unknown as Asset,
    zone: [],
    values: {},
    ip: '10.1.0.57',
    services: ['enip', 'bacnet'],
    rng: new Rng('cip'),
  });
  const enip = new EnipDecoy(id);
  const reg = enip.feed(
    Buffer.from('650004000000000000000000000000000000000000000000' + '01000000', 'hex'),
  )!;
  const session = reg.out[0]!.readUInt32LE(4);
  assert.ok(session > 0);
  const cip = Buffer.from('010220012401', 'hex'); // Get_Attribute_All, class 1 instance 1
  const body = Buffer.concat([
    Buffer.from('00000000' + '0000' + '0200' + '0000' + '0000' + 'b200', 'hex'),
    Buffer.from([cip.length, 0]),
    cip,
  ]);
  const head = Buffer.alloc(24);
  head.writeUInt16LE(0x6f, 0);
  head.writeUInt16LE(body.length, 2);
  head.writeUInt32LE(session, 4);
  const out = enip.feed(Buffer.concat([head, body]))!.out[0]!;
  assert.equal(out.readUInt32LE(8), 0, 'encapsulation status success');
  const data = out.subarray(24 + 16);
  assert.deepEqual([...data.subarray(0, 4)], [0x81, 0, 0, 0], 'CIP success');
  assert.equal(data.readUInt16LE(4), 1, 'vendor id 1 (Rockwell)');
  assert.equal(data.readUInt16LE(6), id.cip.deviceType);
  assert.equal(data.readUInt32LE(14), id.cip.serial);
  assert.equal(data.toString('latin1', 19, 19 + data[18]!), id.cip.productName);
  // A wrong session is refused.
  head.writeUInt32LE(session + 1, 4);
  assert.equal(enip.feed(Buffer.concat([head, body]))!.out[0]!.readUInt32LE(8), 0x64);

  const bacnet = new BacnetDecoy(id);
  const iAm = bacnet.datagram(Buffer.from('810b000c0120ffff00ff1008', 'hex'))!;
  assert.equal(iAm[6], 0x10);
  assert.equal(iAm[7], 0x00);
  assert.equal(iAm.readUInt32BE(9) & 0x3fffff, id.bacnet.instance);
  // A Who-Is for a range without it gets no answer.
  const lo = id.bacnet.instance + 1;
  const ranged = Buffer.from(
    `810b00120120ffff00ff10080b${lo.toString(16).padStart(6, '0')}1b${(lo + 5).toString(16).padStart(6, '0')}`,
    'hex',
  );
  assert.equal(bacnet.datagram(ranged), null);
});
