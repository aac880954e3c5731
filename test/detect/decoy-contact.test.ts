// decoy_contact: any packet to a decoy address is one critical detection per source; normal traffic never is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DetectionEngine } from '../../src/detect/engine.js';
import { feed, tcp, udp, EVIL, learn, normalTraffic } from './synthetic.js';
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
