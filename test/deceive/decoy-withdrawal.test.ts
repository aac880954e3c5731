// Decoys withdrawn by ARP claims (review 12b, B5): a claim lasts until a re-probe (doubling while the claimer keeps
// answering) finds it gone after a quiet time (review 13, M5), and each withdrawal is a detection with its ATT&CK
// techniques, graver for an unknown MAC and gravest for one MAC claiming several decoys. The lab test (decoy-conflict-lab.test.ts) runs them on real hosts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClaimBook, conflictDetection, REPROBE_MAX_S } from '../../src/deceive/conflict.js';
import { DETECTION_TYPES } from '../../src/detect/detection.js';

const MAC = '02:42:0a:4d:00:63';

test('a claim stands until a re-probe, due twice as late each time the claimer still answers, within a day', () => {
  const b = new ClaimBook(60, 0);
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
});

test('review 13 M5: a silent claimer keeps its address for the quiet time after it was last heard; an address claimed again after a release is held for the run', () => {
  const HOUR = 3600;
  const b = new ClaimBook(60, 6 * HOUR);
  // Given back no sooner than the quiet time, whatever the re-probe wait.
  assert.equal(b.claim('10.77.0.51', MAC, 0), 6 * HOUR);
  assert.deepEqual(b.due(60), [], 'one re-probe wait is no proof the device is gone');
  // Heard: its MAC from another address, or anyone asking for or probing the address, restarts the quiet time.
  b.hear({ mac: MAC, sender: '10.77.0.9', target: '10.77.0.1', op: 1 }, 5 * HOUR);
  assert.deepEqual(b.due(6 * HOUR), []);
  b.hear({ mac: '02:00:00:00:00:01', sender: '0.0.0.0', target: '10.77.0.51', op: 1 }, 10 * HOUR);
  assert.deepEqual(b.due(15 * HOUR), []);
  // Another MAC about another address is no sign of it.
  b.hear({ mac: '02:00:00:00:00:01', sender: '10.77.0.8', target: '10.77.0.7', op: 1 }, 15 * HOUR);
  assert.deepEqual(b.due(16 * HOUR), ['10.77.0.51']);
  // Nobody answered the re-probe: back to the pool.
  b.release('10.77.0.51');
  assert.deepEqual([...b.held()], []);
  assert.equal(b.holds('10.77.0.51'), false);
  // Claimed again in the run (the device came back): held for the rest of the run, never due.
  assert.equal(b.claim('10.77.0.51', MAC, 20 * HOUR), null);
  assert.ok(b.holds('10.77.0.51'));
  assert.deepEqual(b.due(Number.MAX_SAFE_INTEGER), []);
  b.postpone('10.77.0.51', 30 * HOUR);
  assert.deepEqual(b.due(Number.MAX_SAFE_INTEGER), []);
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
  assert.match(
    conflictDetection({ ...base, knownAs: null, backAfterS: null }).explanation,
    /rest of the run/,
  );
  assert.equal(conflictDetection({ ...base, knownAs: ['10.77.0.20'] }).severity, 'medium');
  const sweep = conflictDetection({
    ...base,
    knownAs: ['10.77.0.20'],
    claimedByMac: ['10.77.0.54', '10.77.0.51'],
  });
  assert.equal(sweep.severity, 'critical');
  assert.match(sweep.explanation, /claimed 2 decoy addresses/);
});
