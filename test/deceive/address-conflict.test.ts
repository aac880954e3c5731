// The pure parts of decoys giving way to devices (rev12 R6): which ARP frames claim a decoy's address, which pool
// addresses the inventory shows held, and how a held address changes the period's draw. The lab test
// (decoy-conflict-lab.test.ts) runs them against real hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arpClaim } from '../../src/deceive/arp-claim.js';
import { slots } from '../../src/deceive/rotation.js';
import { heldAddresses } from '../../src/policy/decoy-placement.js';
import { LinkType, newFrame } from '../../src/capture/frame.js';
import type { Asset } from '../../src/discover/model.js';
import type { DecoySet } from '../../src/policy/decoy-model.js';

const DECOY = '10.77.0.51';
const DECOY_MAC = '00:0e:8c:11:22:33';
const PLC_MAC = '00:0e:8c:aa:bb:cc';
const watched = new Map([[DECOY, DECOY_MAC]]);
const own = new Set([DECOY_MAC]);

const bytes = (mac: string): number[] => mac.split(':').map((h) => parseInt(h, 16));
const ip4 = (a: string): number[] => a.split('.').map(Number);

/** An Ethernet ARP frame (optionally 802.1Q-tagged) as the capture hands it over. */
function arpFrame(
  op: 1 | 2,
  senderMac: string,
  senderIp: string,
  targetIp: string,
  opts: { vlan?: number; cut?: number } = {},
) {
  const eth = [
    ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ...bytes(senderMac),
    ...(opts.vlan !== undefined ? [0x81, 0x00, 0, opts.vlan] : []),
    0x08,
    0x06,
  ];
  const arp = [
    ...[0, 1, 8, 0, 6, 4, 0, op],
    ...bytes(senderMac),
    ...ip4(senderIp),
    ...[0, 0, 0, 0, 0, 0],
    ...ip4(targetIp),
  ];
  const data = Uint8Array.from([...eth, ...arp].slice(0, opts.cut));
  const f = newFrame();
  f.index = 1;
  f.linkType = LinkType.ETHERNET;
  f.data = data;
  f.offset = 0;
  f.capLen = data.length;
  f.origLen = data.length;
  return f;
}

test('ARP that claims a decoy address: gratuitous, reply, request from it, RFC 5227 probe for it — by another MAC only', () => {
  assert.deepEqual(arpClaim(arpFrame(1, PLC_MAC, DECOY, DECOY), watched, own), {
    address: DECOY,
    mac: PLC_MAC,
    kind: 'gratuitous',
  });
  assert.equal(arpClaim(arpFrame(2, PLC_MAC, DECOY, '10.77.0.10'), watched, own)?.kind, 'reply');
  assert.equal(arpClaim(arpFrame(1, PLC_MAC, DECOY, '10.77.0.10'), watched, own)?.kind, 'request');
  assert.deepEqual(arpClaim(arpFrame(1, PLC_MAC, '0.0.0.0', DECOY), watched, own), {
    address: DECOY,
    mac: PLC_MAC,
    kind: 'probe',
  });
  assert.equal(
    arpClaim(arpFrame(1, PLC_MAC, DECOY, DECOY, { vlan: 10 }), watched, own)?.kind,
    'gratuitous',
  );
  // The decoy's own ARP (its replies, its probe before it took the address) is no claim.
  assert.equal(arpClaim(arpFrame(2, DECOY_MAC, DECOY, '10.77.0.10'), watched, own), null);
  assert.equal(arpClaim(arpFrame(1, DECOY_MAC, '0.0.0.0', DECOY), watched, own), null);
  // Someone asking for the decoy is a contact (the detector's), not a claim; other addresses are not watched.
  assert.equal(arpClaim(arpFrame(1, PLC_MAC, '10.77.0.10', DECOY), watched, own), null);
  assert.equal(arpClaim(arpFrame(1, PLC_MAC, '10.77.0.52', '10.77.0.52'), watched, own), null);
  // Truncated frames: nothing, and no throw.
  assert.equal(arpClaim(arpFrame(1, PLC_MAC, DECOY, DECOY, { cut: 30 }), watched, own), null);
  assert.equal(arpClaim(arpFrame(1, PLC_MAC, DECOY, DECOY, { cut: 10 }), watched, own), null);
});

const SET: DecoySet = {
  name: 'plc-decoys',
  zone: 'control',
  clone: [],
  services: ['modbus'],
  pool: ['10.77.0.51', '10.77.0.52', '10.77.0.53', '10.77.0.54', '10.77.0.55'],
  active: 2,
};

const asset = (ip: string, mac: string | null): Asset =>
  ({ ips: [ip], mac, identity: {}, serves: [], uses: [] }) as unknown as Asset;

test('pool addresses the inventory shows held by a device are passed over; a decoy of our own there is not a device', () => {
  const inventory = {
    assets: [
      asset('10.77.0.52', PLC_MAC),
      asset('10.77.0.53', DECOY_MAC),
      asset('10.77.0.21', null),
    ],
    edges: [],
  };
  const held = heldAddresses([SET], inventory, new Map([['10.77.0.53', new Set([DECOY_MAC])]]));
  assert.deepEqual(
    held.map((h) => [h.address, h.mac]),
    [['10.77.0.52', PLC_MAC]],
  );
  assert.match(held[0]!.message, /10\.77\.0\.52 is held by 00:0e:8c:aa:bb:cc in the inventory/);
  // The same MAC on another pool address than the one it wore as a decoy: a device (a reused NIC, a spoofer).
  assert.equal(heldAddresses([SET], inventory, new Map()).length, 2);
  // Discovery could not tell the MAC: held all the same.
  assert.equal(
    heldAddresses([SET], { assets: [asset('10.77.0.54', null)], edges: [] }, new Map()).length,
    1,
  );
});

test("a held address gives its slot the period's next free address; the other slot keeps address and identity", () => {
  const before = slots(SET, 7, 's');
  assert.deepEqual(
    slots(SET, 7, 's', new Set()),
    before,
    'nothing held: the draw as it always was',
  );
  const moved = slots(SET, 7, 's', new Set([before[0]!.ip]));
  assert.equal(moved.length, 2);
  assert.deepEqual(moved[1], before[1]);
  assert.ok(
    SET.pool.includes(moved[0]!.ip) &&
      moved[0]!.ip !== before[0]!.ip &&
      moved[0]!.ip !== before[1]!.ip,
  );
  assert.notEqual(moved[0]!.seed, before[0]!.seed, 'a replacement is another unit');
  // All but one held: one decoy; all held: none.
  const free = SET.pool[3]!;
  assert.deepEqual(
    slots(SET, 7, 's', new Set(SET.pool.filter((a) => a !== free))).map((s) => s.ip),
    [free],
  );
  assert.deepEqual(slots(SET, 7, 's', new Set(SET.pool)), []);
});
