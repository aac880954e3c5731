import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCapture } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import type { InventorySnapshot } from '../../src/discover/model.js';
import { sharedCapture } from '../helpers/paths.js';

async function discover(...files: string[]): Promise<InventorySnapshot> {
  const inv = new Inventory();
  for (const f of files) {
    const p = new DissectPipeline({
      onPacket: (x) => inv.onPacket(x),
      onMessage: (m) => inv.onMessage(m),
    });
    await readCapture(f, (fr) => p.push(fr));
  }
  return inv.snapshot();
}

test('DNP3: the outstation is an RTU, the master a SCADA server, with polling and function codes on the edge', async (t) => {
  const f = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!f) return t.skip('capture missing');
  const snap = await discover(f);
  const rtu = snap.assets.find((a) => a.id === '10.10.20.8')!;
  const master = snap.assets.find((a) => a.id === '10.10.20.5')!;
  assert.equal(rtu.role, 'rtu', rtu.roleReasons.join('; '));
  assert.equal(master.role, 'scada_server', master.roleReasons.join('; '));
  assert.deepEqual(rtu.serves, ['dnp3']);
  const edges = snap.edges.filter((e) => e.server === '10.10.20.8' && e.protocol === 'dnp3');
  assert.ok(edges.length >= 1);
  const funcs = new Set(edges.flatMap((e) => e.functions.map((f) => f.func)));
  assert.ok(funcs.has(1), 'DNP3 READ seen');
  assert.equal(edges.reduce((n, e) => n + e.packets, 0) > 0, true);
});

test('S7-1200 with its HMI: the PLC serves port 102 and the HMI is its client', async (t) => {
  const f = sharedCapture('ics-pcap/s7_1200_hmi_timer_sync.pcapng');
  if (!f) return t.skip('capture missing');
  const snap = await discover(f);
  const plc = snap.assets.find((a) => a.id === '192.168.1.191')!;
  const hmi = snap.assets.find((a) => a.id === '192.168.1.35')!;
  assert.equal(plc.role, 'plc', plc.roleReasons.join('; '));
  assert.ok(['hmi', 'engineering_workstation'].includes(hmi.role), hmi.role);
  const e = snap.edges.find(
    (x) => x.client === '192.168.1.35' && x.server === '192.168.1.191' && x.port === 102,
  )!;
  assert.ok(e.protocol.startsWith('s7comm'), e.protocol);
  assert.ok(plc.mac && hmi.mac, 'MACs attributed');
  // The S7comm-plus CreateObject response's ServerSessionVersion names the CPU: order number and firmware.
  assert.equal(plc.identity.model, '6ES7 214-1HE30-0XB0');
  assert.equal(plc.identity.firmware, 'V2.2');
  assert.equal(plc.identity.product, 'S7-1200');
  assert.equal(hmi.identity.model, undefined, 'the HMI is not given the PLC identity');
});

test('BACnet: devices are BACnet devices, with I-Am identity where announced', async (t) => {
  const f = sharedCapture('icsnpp/bacnet_services.pcap');
  if (!f) return t.skip('capture missing');
  const snap = await discover(f);
  assert.ok(
    snap.assets.some((a) => a.identity.deviceType === 'bacnet-device'),
    'an I-Am identity was recorded',
  );
  const dev = snap.assets.find((a) => a.id === '192.168.0.24')!;
  assert.equal(dev.role, 'bacnet_device');
  assert.ok(snap.edges.some((e) => e.protocol === 'bacnet' && e.functions.length > 0));
});

test('two captures fold into one inventory, counting each packet once', async (t) => {
  const a = sharedCapture('icsnpp/modbus_example.pcap');
  const b = sharedCapture('icsnpp/dnp3_example.pcap');
  if (!a || !b) return t.skip('captures missing');
  const one = await discover(a),
    two = await discover(b),
    both = await discover(a, b);
  assert.equal(both.assets.length, one.assets.length + two.assets.length);
  const pk = (s: InventorySnapshot) => s.edges.reduce((n, e) => n + e.packets, 0);
  assert.equal(pk(both), pk(one) + pk(two));
});
