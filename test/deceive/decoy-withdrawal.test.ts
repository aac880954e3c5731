// Decoys withdrawn by ARP claims (review 12b, B5): a claim lasts until a re-probe (doubling while the claimer keeps
// answering), and each withdrawal is a detection with its ATT&CK techniques, graver for an unknown MAC and gravest
// for one MAC claiming several decoys. The lab test (decoy-conflict-lab.test.ts) runs them on real hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimBook, conflictDetection, REPROBE_MAX_S } from '../../src/deceive/conflict.js';
import { DETECTION_TYPES } from '../../src/detect/detection.js';

const MAC = '02:42:0a:4d:00:63';

test('a claim stands until a re-probe, due twice as late each time the claimer still answers, within a day', () => {
  const b = new ClaimBook(60);
  assert.equal(b.claim('10.77.0.51', MAC, 1000), 60);
  assert.deepEqual([...b.held()], [['10.77.0.51', MAC]]);
  assert.deepEqual(b.due(1059), []);
  assert.deepEqual(b.due(1060), ['10.77.0.51']);
  assert.deepEqual([...b.held()], [['10.77.0.51', MAC]], 'held until the re-probe says otherwise');
  // The re-probe was answered: held again, for longer.
  assert.equal(b.claim('10.77.0.51', MAC, 1060), 120);
  assert.deepEqual(b.due(1179), []);
  assert.equal(b.claim('10.77.0.51', MAC, 1180), 240);
  for (let i = 0; i < 20; i++) b.claim('10.77.0.51', MAC, 2000);
  assert.equal(b.claim('10.77.0.51', MAC, 2000), REPROBE_MAX_S);
  // The re-probe could not be sent: tried again after the base wait.
  b.postpone('10.77.0.51', 100_000);
  assert.deepEqual(b.due(100_059), []);
  assert.deepEqual(b.due(100_060), ['10.77.0.51']);
  // Nobody answered: back to the pool; a later claim starts over.
  b.release('10.77.0.51');
  assert.deepEqual([...b.held()], []);
  assert.equal(b.claim('10.77.0.51', MAC, 3000), 60);
});

test('a withdrawal is a decoy_conflict detection: evidence, ATT&CK, severity by who claims and how many', () => {
  assert.ok((DETECTION_TYPES as readonly string[]).includes('decoy_conflict'));
  const base = {
    claim: { address: '10.77.0.51', mac: MAC, kind: 'reply' as const },
    ts: 1_800_000_000,
    set: 'plc-decoys',
    zone: 'control',
    decoyMac: '00:0e:8c:11:22:33',
    claimedByMac: ['10.77.0.51'],
    backAfterS: 600,
  };
  const unknown = conflictDetection({ ...base, knownAs: null });
  assert.equal(unknown.type, 'decoy_conflict');
  assert.equal(unknown.severity, 'high');
  assert.equal(unknown.src, MAC);
  assert.equal(unknown.dst, '10.77.0.51');
  assert.equal(unknown.zone, 'control');
  assert.match(unknown.id, /^[0-9a-f]{16}$/);
  assert.deepEqual(unknown.techniques, ['T0849', 'T0830']);
  assert.deepEqual(unknown.evidence.fields, {
    decoy: '10.77.0.51',
    decoy_mac: '00:0e:8c:11:22:33',
    set: 'plc-decoys',
    claimed_by: MAC,
    arp: 'reply',
    claimer_known: false,
    decoys_claimed_by_mac: ['10.77.0.51'],
    withdrawn: true,
    reprobe_after_s: 600,
  });
  assert.match(unknown.explanation, /does not know.*600 s/);
  assert.equal(conflictDetection({ ...base, knownAs: ['10.77.0.20'] }).severity, 'medium');
  const sweep = conflictDetection({
    ...base,
    knownAs: ['10.77.0.20'],
    claimedByMac: ['10.77.0.54', '10.77.0.51'],
  });
  assert.equal(sweep.severity, 'critical');
  assert.match(sweep.explanation, /claimed 2 decoy addresses/);
});
