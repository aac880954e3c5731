import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedCapture } from '../helpers/paths.js';
import { discoverFiles, assetOf } from '../helpers/discover.js';

test('BACnet vendor ids are shown by name', async (t) => {
  const f = sharedCapture('icsnpp/bacnet_example.pcap'),
    g = sharedCapture('icsnpp/bacnet_services.pcap');
  if (!f || !g) return t.skip('capture missing');
  assert.equal(
    assetOf(await discoverFiles(g), '192.168.0.24').identity.vendor,
    'Acuity Brands Lighting',
  );
  const snap = await discoverFiles(f);
  const bac = assetOf(snap, '172.20.32.108');
  assert.equal(bac.identity.vendor, 'Cornell University');
  assert.equal(assetOf(snap, '172.20.32.100').identity.vendor, 'PowerCold Comfort Air Solutions');
});
