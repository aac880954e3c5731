// decoy_contact: any packet to a decoy address is one critical detection per source; normal traffic never is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectionEngine } from '../../src/detect/engine.js';
import { feed, tcp, udp, EVIL, HMI, PLC, learn, normalTraffic } from './synthetic.js';
import { newPacket, TcpFlag } from '../../src/dissect/packet.js';
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

test('a contact from a device of the baseline is spoofable (reported, marked) unless it completes the decoy handshake; an unknown source is a contact as before (rev12 R5)', () => {
  const eng = new DetectionEngine(learn(), { decoys: new Set([DECOY]) });
  let t = normalTraffic(eng, 2000, 5);
  // One forged datagram "from" the HMI, a forged SYN, and an ACK that guesses the decoy's sequence number wrong.
  feed(eng, udp((t += 0.1), HMI, 47808, DECOY, 47808));
  feed(eng, tcp((t += 0.1), PLC, 40001, DECOY, 502, TcpFlag.SYN));
  const synAck = tcp((t += 0.001), DECOY, 502, PLC, 40001, TcpFlag.SYN | TcpFlag.ACK, 0);
  synAck.tcpSeq = 1000;
  feed(eng, synAck);
  const guess = tcp((t += 0.001), PLC, 40001, DECOY, 502, TcpFlag.ACK, 0);
  guess.tcpAck = 5;
  feed(eng, guess);
  let ds = eng.finish().filter((d) => d.type === 'decoy_contact');
  assert.deepEqual(
    ds.map((d) => `${d.src} ${d.evidence.fields.spoofable === true} ${d.detail}`).sort(),
    [`${HMI} true spoofable`, `${PLC} true spoofable`],
  );
  assert.match(ds[0]!.explanation, /may be spoofed/);

  // The PLC's own stack completes the handshake (ACK of the decoy's ISN + 1): a contact of its own.
  const eng2 = new DetectionEngine(learn(), { decoys: new Set([DECOY]) });
  t = normalTraffic(eng2, 2000, 5);
  feed(eng2, tcp((t += 0.1), PLC, 40002, DECOY, 502, TcpFlag.SYN));
  const sa = tcp((t += 0.001), DECOY, 502, PLC, 40002, TcpFlag.SYN | TcpFlag.ACK, 0);
  sa.tcpSeq = 0xffffffff;
  feed(eng2, sa);
  const ack = tcp((t += 0.001), PLC, 40002, DECOY, 502, TcpFlag.ACK, 0);
  ack.tcpAck = 0;
  feed(eng2, ack);
  // An unknown source: one datagram is a contact, as before.
  feed(eng2, udp((t += 0.1), EVIL, 47808, DECOY, 47808));
  ds = eng2.finish().filter((d) => d.type === 'decoy_contact');
  const proven = ds.find((d) => d.src === PLC && d.evidence.fields.spoofable !== true)!;
  assert.equal(proven.evidence.fields.tcp_handshake, 'completed');
  assert.ok(
    ds.some((d) => d.src === PLC && d.evidence.fields.spoofable === true),
    'the SYN was',
  );
  const evil = ds.find((d) => d.src === EVIL)!;
  assert.equal(evil.evidence.fields.spoofable, undefined);
  assert.equal(evil.detail, '');
});
