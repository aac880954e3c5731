import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeAsset } from '../../src/discover/merge.js';
import { shorten } from '../../src/discover/oui.js';
import { sharedCapture } from '../helpers/paths.js';
import { discoverFiles, assetOf } from '../helpers/discover.js';

test('modbus_example: the public address behind the router does not get the router\'s MAC vendor', async (t) => {
  const f = sharedCapture('icsnpp/modbus_example.pcap');
  if (!f) return t.skip('capture missing');
  const snap = await discoverFiles(f);
  const remote = assetOf(snap, '3.15.227.20');
  assert.equal(remote.macVendor, null, 'no MAC vendor of its own');
  assert.equal(remote.mac, null, 'the router\'s MAC is not its MAC');
  assert.deepEqual(remote.behindRouter, { mac: '50:6a:03:ae:49:7d', vendor: 'NETGEAR' });
  // The local HMI keeps its own NIC's vendor.
  assert.equal(assetOf(snap, '192.168.1.6').macVendor, 'HP');
  // The loopback capture's all-zero MAC is no NIC, so no maker either (its OUI block is Xerox's).
  assert.equal(assetOf(snap, '127.0.0.1').macVendor, null);
});

test('a stored record that named the router\'s MAC as the device\'s own is corrected when the router is recognised', async (t) => {
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
