import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RangeSet } from '../../src/discover/ranges.js';
import { PollTimer } from '../../src/discover/polling.js';

test('RangeSet merges overlapping and adjacent ranges and keeps them sorted', () => {
  const r = new RangeSet();
  r.add(10, 5);
  r.add(0, 2);
  r.add(15, 1);
  r.add(12, 1);
  r.add(100, 10);
  r.add(2, 3);
  assert.deepEqual(r.toArray(), [
    [0, 4],
    [10, 15],
    [100, 109],
  ]);
  r.add(5, 5);
  assert.deepEqual(r.toArray(), [
    [0, 15],
    [100, 109],
  ]);
  assert.ok(r.covers(3, 10));
  assert.ok(!r.covers(14, 3));
  r.add(0, 0);
  assert.deepEqual(RangeSet.from(r.toArray()).toArray(), r.toArray());
});

test('RangeSet agrees with a brute-force set on random input', () => {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 200; round++) {
    const r = new RangeSet();
    const bits = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const s = rnd(200),
        c = rnd(8);
      r.add(s, c);
      for (let k = 0; k < c; k++) bits.add(s + k);
    }
    const expect: Array<[number, number]> = [];
    for (const x of [...bits].sort((a, b) => a - b)) {
      const last = expect.at(-1);
      if (last && last[1] === x - 1) last[1] = x;
      else expect.push([x, x]);
    }
    assert.deepEqual(r.toArray(), expect);
  }
});

test('PollTimer finds the polling period and its jitter from repeated requests', () => {
  const p = new PollTimer();
  for (let i = 0; i < 50; i++) {
    p.request(1, 100 + i * 0.2 + (i % 2 ? 0.002 : 0));
    if (i < 10) p.request(2, 100.05 + i * 1.0);
  }
  const per = p.period()!;
  assert.ok(per.median > 0.19 && per.median < 0.21, `median ${per.median}`);
  assert.ok(per.iqr < 0.01);
  assert.equal(new PollTimer().period(), null);
});
