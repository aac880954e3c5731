import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeAsset } from '../../src/discover/merge.js';
import { shorten } from '../../src/discover/oui.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { Inventory } from '../../src/discover/inventory.js';
import { sharedCapture } from '../helpers/paths.js';
import { discoverFiles, assetOf } from '../helpers/discover.js';

test("modbus_example: the public address behind the router does not get the router's MAC vendor", async (t) => {
  const f = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f) return t.skip('capture missing');
  const snap = await discoverFiles(f);
  const remote = assetOf(snap, '3.15.227.20');
  assert.equal(remote.macVendor, null, 'no MAC vendor of its own');
  assert.equal(remote.mac, null, "the router's MAC is not its MAC");
  assert.deepEqual(remote.behindRouter, { mac: '50:6a:03:ae:49:7d', vendor: 'NETGEAR' });
  // The local HMI keeps its own NIC's vendor.
  assert.equal(assetOf(snap, '192.168.1.6').macVendor, 'HP');
  // The loopback capture's all-zero MAC is no NIC, so no maker either (its OUI block is Xerox's).
  assert.equal(assetOf(snap, '127.0.0.1').macVendor, null);
});

test("a stored record that named the router's MAC as the device's own is corrected when the router is recognised", async (t) => {
  const f = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f) return t.skip('capture missing');
  const now = assetOf(await discoverFiles(f), '3.15.227.20');
  const stored = { ...structuredClone(now), mac: '50:6a:03:ae:49:7d', macVendor: 'NETGEAR' };
  delete stored.behindRouter;
  const merged = mergeAsset(stored, now, {});
  assert.equal(merged.mac, null);
  assert.equal(merged.macVendor, null);
  assert.equal(merged.behindRouter?.vendor, 'NETGEAR');
});

test('MAC vendor names drop joined legal suffixes too', () => {
  assert.equal(shorten('Hon Hai Precision Ind. Co.,Ltd.'), 'Hon Hai Precision Ind');
  assert.equal(shorten('Samsung Electronics Co.,Ltd'), 'Samsung Electronics');
  assert.equal(shorten('Cisco Systems, Inc'), 'Cisco Systems');
  assert.equal(shorten('Cisco'), 'Cisco');
  assert.equal(shorten('Siemens AG'), 'Siemens AG');
});

/** An Ethernet + IPv4 + UDP frame (payload of 8 zero bytes, port 40000 → 47808) between two hosts. */
function udpFrame(
  index: number,
  srcMac: string,
  dstMac: string,
  src: string,
  dst: string,
): Uint8Array {
  const b = new Uint8Array(14 + 20 + 8 + 8);
  b.set(
    dstMac.split(':').map((x) => parseInt(x, 16)),
    0,
  );
  b.set(
    srcMac.split(':').map((x) => parseInt(x, 16)),
    6,
  );
  b[12] = 0x08;
  b[13] = 0x00;
  b[14] = 0x45;
  b[17] = 36;
  b[18] = index;
  b[22] = 64;
  b[23] = 17;
  b.set(src.split('.').map(Number), 26);
  b.set(dst.split('.').map(Number), 30);
  let sum = 0;
  for (let k = 14; k < 34; k += 2) sum += (b[k]! << 8) | b[k + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  b[24] = (~sum >> 8) & 0xff;
  b[25] = ~sum & 0xff;
  b[34] = 40000 >> 8;
  b[35] = 40000 & 0xff;
  b[36] = 47808 >> 8;
  b[37] = 47808 & 0xff;
  b[39] = 16;
  return b;
}

test("a MAC that carries a public address is a router's: an off-subnet private address behind it gets no vendor either", () => {
  const router = '50:6a:03:ae:49:7d',
    hmi = '04:0e:3c:1f:4b:c1';
  const inv = new Inventory();
  const p = new DissectPipeline({
    onPacket: (x) => inv.onPacket(x),
    onMessage: (m) => inv.onMessage(m),
  });
  const frames = [
    udpFrame(1, hmi, router, '192.168.1.6', '8.8.4.4'),
    udpFrame(2, router, hmi, '8.8.4.4', '192.168.1.6'),
    udpFrame(3, hmi, router, '192.168.1.6', '10.20.0.5'),
    udpFrame(4, router, hmi, '10.20.0.5', '192.168.1.6'),
  ];
  frames.forEach((data, i) =>
    p.push({
      index: i + 1,
      ts: 1000 + i,
      linkType: 1,
      iface: 0,
      data,
      offset: 0,
      capLen: data.length,
      origLen: data.length,
    }),
  );
  const snap = inv.snapshot();
  for (const ip of ['8.8.4.4', '10.20.0.5']) {
    const a = assetOf(snap, ip);
    assert.equal(a.mac, null, `${ip}: the router's MAC is not its own`);
    assert.equal(a.macVendor, null, `${ip}: no vendor of its own`);
    assert.deepEqual(a.behindRouter, { mac: router, vendor: 'NETGEAR' });
  }
  assert.equal(assetOf(snap, '192.168.1.6').macVendor, 'HP');
});
