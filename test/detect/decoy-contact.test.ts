// decoy_contact: any packet to a decoy address is one critical detection per source; normal traffic never is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectionEngine } from '../../src/detect/engine.js';
import { feed, tcp, udp, EVIL, HMI, PLC, learn, normalTraffic } from './synthetic.js';
import { newPacket } from '../../src/dissect/packet.js';
import { newMessage } from '../../src/dissect/message.js';
import { ATTACK_MAP } from '../../src/detect/attack-map.js';

const DECOY = '10.0.0.99';

test('a touch of a decoy is a critical decoy_contact naming the decoy and port; normal traffic gives none', () => {
  const eng = new DetectionEngine(learn(), { decoys: new Set([DECOY, '10.0.0.98']) });
  let t = normalTraffic(eng, 2000, 30);
  feed(eng, tcp(t, EVIL, 40001, DECOY, 502));
  feed(eng, tcp((t += 0.1), EVIL, 40002, DECOY, 102));
  feed(eng, udp((t += 0.1), EVIL, 47808, '10.0.0.98', 47808));
  const ds = eng.finish().filter((d) => d.type === 'decoy_contact');
  assert.ok(ds.length >= 1);
  assert.ok(ds.every((d) => d.severity === 'critical' && d.src === EVIL));
  assert.deepEqual([...new Set(ds.map((d) => d.dst))].sort(), ['10.0.0.98', DECOY]);
  assert.equal(ds.find((d) => d.dst === DECOY)!.evidence.fields.port, 502);
  assert.ok(ATTACK_MAP.decoy_contact);

  const quiet = new DetectionEngine(learn(), { decoys: new Set([DECOY]) });
  normalTraffic(quiet, 2000, 120);
  assert.deepEqual(
    quiet.finish().filter((d) => d.type === 'decoy_contact'),
    [],
  );
});

test('an ARP sweep that asks for a decoy is a contact from a newcomer, not from a device of the baseline', () => {
  const arp = (ts: number, sender: string, target: string) => {
    const p = newPacket();
    p.ts = ts;
    p.frame = Math.round(ts * 10);
    p.etherType = 0x0806;
    p.srcMac = '02:00:00:00:00:42';
    const m = Object.assign(
      newMessage(
        {
          frame: p.frame,
          ts,
          transport: 'l2',
          srcMac: p.srcMac,
          dstMac: 'ff:ff:ff:ff:ff:ff',
          srcIp: '',
          dstIp: '',
          srcPort: 0,
          dstPort: 0,
        },
        'arp',
      ),
      {
        func: 1,
        funcName: 'REQUEST',
        fields: {
          sender_ip: sender,
          target_ip: target,
          sender_mac: p.srcMac,
          target_mac: '00:00:00:00:00:00',
          gratuitous: false,
        },
      },
    );
    return [p, m] as const;
  };
  const eng = new DetectionEngine(learn(), { decoys: new Set([DECOY]) });
  const t = normalTraffic(eng, 2000, 5);
  feed(eng, ...arp(t, HMI, DECOY)); // a device of the baseline: not reported
  feed(eng, ...arp(t + 1, '0.0.0.0', DECOY)); // an address-conflict probe
  feed(eng, ...arp(t + 2, EVIL, DECOY));
  const ds = eng.finish().filter((d) => d.type === 'decoy_contact');
  assert.equal(ds.length, 1);
  assert.equal(ds[0]!.src, EVIL);
  assert.equal(ds[0]!.evidence.fields.arp, 'who-has');
});

test("a decoy's own replies raise nothing of their own (no new asset for the decoy)", () => {
  const eng = new DetectionEngine(learn(), { decoys: new Set([DECOY]) });
  const t = normalTraffic(eng, 2000, 5);
  feed(eng, tcp(t, EVIL, 40001, DECOY, 502));
  feed(eng, tcp(t + 0.001, DECOY, 502, EVIL, 40001));
  const ds = eng.finish();
  assert.ok(ds.some((d) => d.type === 'decoy_contact'));
  assert.deepEqual(
    ds.filter((d) => d.src === DECOY),
    [],
  );
});

test('a decoy address the baseline knows is never watched: normal traffic cannot become a decoy contact', () => {
  // A policy approved before the PLC's traffic was learned names the PLC's address as a decoy.
  const eng = new DetectionEngine(learn(), { decoys: new Set([PLC, DECOY]) });
  const t = normalTraffic(eng, 2000, 30);
  feed(eng, tcp(t, EVIL, 40001, DECOY, 502));
  const ds = eng.finish().filter((d) => d.type === 'decoy_contact');
  assert.deepEqual(
    ds.map((d) => d.dst),
    [DECOY],
  );
});
