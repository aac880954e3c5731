// The compiled baseline shares one copy of each learned list (protocols, functions, anomaly kinds) between every
// edge that learned it, and hands it out as evidence (function_outside_profile's baseline_functions). A detector,
// exporter or later change that pushed into one in place would widen every other edge's profile at once, so an
// attacker's one unlearned function would become learned on all of them: the lists are frozen, so such a push
// throws instead. The parsed baseline stays its owner's: not frozen, and no longer tied to the compiled lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Baseline } from '../../src/discover/baseline.js';
import { CompiledBaseline } from '../../src/detect/profile.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { acceptIntoBaseline } from '../../src/detect/accept.js';
import type { Detection } from '../../src/detect/detection.js';
import { feed, learn, msg, tcp, HMI, PLC } from './synthetic.js';

/** The learned baseline with a second HMI polling the same PLC with the same lists (so they are shared). */
function twoEdges(): { b: Baseline; first: string; second: string } {
  const b = learn();
  const first = Object.keys(b.edges).find((id) => id.startsWith(`${HMI}>${PLC}/`))!;
  const second = first.replace(HMI, '10.1.0.11');
  b.edges[second] = structuredClone({ ...b.edges[first]!, id: second, client: '10.1.0.11' });
  return { b, first, second };
}

/** An unlearned write function from the HMI: function_outside_profile, carrying the learned list. */
function unlearnedWrite(b: Baseline): Detection[] {
  const eng = new DetectionEngine(b);
  const p = tcp(5000, HMI, 40000, PLC, 502);
  feed(
    eng,
    p,
    msg(p, 'modbus', {
      role: 'request',
      func: 16,
      funcName: 'WRITE_MULTIPLE_REGISTERS',
      unit: 1,
      write: true,
      targets: [{ space: 'holding_register', start: 200, count: 2 }],
    }),
  );
  return eng.finish().filter((d) => d.type === 'function_outside_profile');
}

test('the lists shared between edges are frozen: a push throws and no other edge is widened', () => {
  const { b, first, second } = twoEdges();
  const cb = new CompiledBaseline(b);
  const one = cb.profile(first)!.learned;
  const two = cb.profile(second)!.learned;
  // Shared: the same list object for both edges.
  assert.equal(one.functions, two.functions);
  const fns = [...two.functions];
  for (const list of [one.protocols, one.functions, one.anomalyKinds]) {
    assert.ok(Object.isFrozen(list));
    assert.throws(() => (list as string[]).push('modbus:16'), TypeError);
    assert.throws(() => ((list as string[])[0] = 'modbus:16'), TypeError);
  }
  // The empty list (edges that learned none) is shared by all of them too.
  assert.ok(Object.isFrozen(one.anomalyKinds));
  assert.deepEqual([...two.functions], fns);
  assert.ok(!cb.profile(second)!.learned.functions.includes('modbus:16'));
});

test('compiling leaves the parsed baseline its own: not frozen, and changing it later does not change the compiled lists', () => {
  const { b, first, second } = twoEdges();
  const cb = new CompiledBaseline(b);
  const e = b.edges[first]!;
  assert.ok(!Object.isFrozen(e.functions));
  const before = [...cb.profile(second)!.learned.functions];
  e.functions.push('modbus:16');
  e.protocols.push('s7comm');
  assert.deepEqual([...cb.profile(first)!.learned.functions], before);
  assert.deepEqual([...cb.profile(second)!.learned.functions], before);
  assert.ok(!cb.profile(first)!.learned.protocols.includes('s7comm'));
});

test('evidence carries the frozen list; pushing into it throws; accepting the detection (which clones) still learns it', () => {
  const { b, first, second } = twoEdges();
  const found = unlearnedWrite(b);
  assert.equal(found.length, 1);
  const d = found[0]!;
  const listed = d.evidence.fields.baseline_functions as string[];
  assert.ok(Array.isArray(listed) && listed.length > 0);
  assert.throws(() => listed.push('modbus:16'), TypeError);
  // "Learn this": a new baseline version whose edge has the function, others and the old version untouched.
  const next = acceptIntoBaseline(b, d, 'new recipe download')!;
  assert.ok(next !== null);
  assert.ok(next.edges[first]!.functions.includes('modbus:16'));
  assert.ok(!next.edges[second]!.functions.includes('modbus:16'));
  assert.ok(!b.edges[first]!.functions.includes('modbus:16'));
  assert.ok(!Object.isFrozen(next.edges[first]!.functions));
  // Accepting from a baseline whose lists are frozen (the compiled ones, say) works the same: it clones first.
  const frozen = structuredClone(b);
  for (const e of Object.values(frozen.edges))
    for (const l of [e.protocols, e.functions, e.anomalyKinds]) Object.freeze(l);
  const again = acceptIntoBaseline(frozen, d, 'again')!;
  assert.ok(again.edges[first]!.functions.includes('modbus:16'));
  // The accepted version no longer finds it; the other HMI sending it still is a detection.
  assert.deepEqual(unlearnedWrite(next), []);
  const eng = new DetectionEngine(next);
  const p = tcp(5000, '10.1.0.11', 40001, PLC, 502);
  feed(eng, p, msg(p, 'modbus', { role: 'request', func: 16, unit: 1, write: true, targets: [] }));
  assert.ok(eng.finish().some((x) => x.type === 'function_outside_profile'));
});
