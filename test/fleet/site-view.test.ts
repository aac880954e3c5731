// The manager's sites as the dashboard reads them from manager.db: health by silence, lag, versions against the
// latest, and health records from sites that are not of the expected shape (read as not reported, no crash).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openFleetDb } from '../../src/fleet/fleet-db.js';
import type { CaptureStatus } from '../../src/capture/live.js';
import {
  captureRecord,
  CUT_OFF_AFTER_S,
  healthOf,
  readFleetView,
  siteRecords,
  STALE_AFTER_S,
  zoneModes,
} from '../../src/fleet/site-view.js';

const NOW = 1_800_000_000_000;

test('health: ok, stale after a minute of silence, cut off after five', () => {
  assert.equal(healthOf(NOW, NOW), 'ok');
  assert.equal(healthOf(NOW - (STALE_AFTER_S * 1000 - 1), NOW), 'ok');
  assert.equal(healthOf(NOW - STALE_AFTER_S * 1000, NOW), 'stale');
  assert.equal(healthOf(NOW - CUT_OFF_AFTER_S * 1000, NOW), 'cut off');
});

test('sites with good, odd and missing health records; records carry the site', () => {
  const db = openFleetDb(':memory:');
  const site = db.prepare(
    'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
  );
  site.run(
    'a',
    NOW - 5000,
    NOW - 7000,
    10,
    JSON.stringify({
      pending: 3,
      stateRevision: 4,
      applied: { policy: 2, blocklist: 1, permits: null },
      // What the site could not put into force (review 13, L3); odd entries are left out.
      notInForce: [
        { kind: 'policy', version: 3, reason: 'not-applied: br_netfilter is not loaded' },
        { kind: 'rm -rf', version: 1, reason: 'x' },
        { kind: 'blocklist', version: -1, reason: 'x' },
        { kind: 'permits', version: 2, reason: 'x'.repeat(400) },
        null,
      ],
      enforcement: {
        loaded: true,
        gateway: 'up',
        blocked: 1,
        zones: [{ name: 'cell', mode: 'enforce' }, { name: 7 }],
      },
      capture: {
        program: 'weir-capture',
        counters: { captured: 9, receivedByFilter: 10, droppedByKernel: 1, droppedByInterface: 0 },
        state: 'running',
        reason: null,
        at: NOW - 6000,
      },
    }),
  );
  site.run(
    'b',
    NOW - 400_000,
    NOW - 400_000,
    1,
    '{"pending":"x","applied":[1],"enforcement":5,"capture":{"program":"rm -rf","counters":{}}}',
  );
  site.run('c', NOW - 90_000, NOW - 90_000, 1, 'not json');
  db.prepare('INSERT INTO fleet_state (kind, version, at) VALUES (?, ?, ?)').run('policy', 3, NOW);
  const v = readFleetView(db, NOW);
  assert.deepEqual(v.latest, { policy: 3, blocklist: null, permits: null, bundle: null });
  assert.deepEqual(v.sites[0], {
    name: 'a',
    health: 'ok',
    lastSync: NOW - 5000,
    lagSeconds: 7,
    backlog: 3,
    records: 10,
    intake: null,
    applied: { policy: 2, blocklist: 1, permits: null, bundle: null },
    notInForce: [
      { kind: 'policy', version: 3, reason: 'not-applied: br_netfilter is not loaded' },
      { kind: 'permits', version: 2, reason: 'x'.repeat(300) },
    ],
    enforcement: {
      loaded: true,
      gateway: 'up',
      blocked: 1,
      zones: [{ name: 'cell', mode: 'enforce' }],
    },
    capture: {
      program: 'weir-capture',
      counters: { captured: 9, receivedByFilter: 10, droppedByKernel: 1, droppedByInterface: 0 },
      state: 'running',
      reason: null,
      at: NOW - 6000,
      stale: false,
    },
  });
  assert.deepEqual(
    v.sites
      .slice(1)
      .map((s) => [
        s.name,
        s.health,
        s.backlog,
        s.applied.policy,
        s.enforcement,
        s.capture,
        s.notInForce,
      ]),
    [
      ['b', 'cut off', null, null, null, null, []],
      ['c', 'stale', null, null, null, null, []],
    ],
  );

  const rec = db.prepare(
    'INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  rec.run('a:1', 'a', 'detection', '{"type":"port_scan"}', 1, 1, NOW);
  rec.run('a:2', 'a', 'detection', '[broken', 2, 2, NOW);
  rec.run('b:1', 'b', 'detection', '{"type":"new_talker"}', 3, 3, NOW);
  rec.run('a:3', 'a', 'health', '{}', 4, 4, NOW);
  assert.deepEqual(siteRecords(db, 'a', 'detection', 10, 0), {
    total: 2,
    items: [{ site: 'a' }, { type: 'port_scan', site: 'a' }],
  });
  // A record cannot name another site: the site comes from the row, not from the body.
  rec.run('b:2', 'b', 'detection', '{"type":"x","site":"a"}', 5, 5, NOW);
  assert.equal(siteRecords(db, 'b', 'detection', 10, 0).items[0]!.site, 'b');
  db.close();
});

test('zone modes of the applied policy; none once removed or when it does not parse', () => {
  const applied = {
    sha: 'x',
    source: 'p.yaml',
    text: `weir: policy/1
zones:
  - { name: sup, members: [10.66.0.0/28], mode: monitor }
  - { name: ctl, members: [10.66.0.16/28], mode: enforce }
`,
    appliedAt: '',
    actor: 'root',
    family: 'inet',
    gatewayIp: null,
  };
  assert.deepEqual(zoneModes(applied), [
    { name: 'sup', mode: 'monitor' },
    { name: 'ctl', mode: 'enforce' },
  ]);
  assert.deepEqual(zoneModes({ ...applied, removedAt: 'now' }), []);
  assert.deepEqual(zoneModes({ ...applied, text: 'zones: [' }), []);
  assert.deepEqual(zoneModes(null), []);
});

test("a site's capture: the program and counters as reported; odd counters read as none, an odd program as not reported", () => {
  const db = openFleetDb(':memory:');
  const site = db.prepare(
    'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
  );
  const health = (capture: unknown) =>
    JSON.stringify({
      pending: 0,
      capture: capture !== null && typeof capture === 'object' ? { at: NOW, ...capture } : capture,
    });
  const counters = { captured: 5, receivedByFilter: 6, droppedByKernel: 0, droppedByInterface: 1 };
  site.run('a', NOW, NOW, 1, health({ program: 'tcpdump', counters: null }));
  site.run('b', NOW, NOW, 1, health({ program: 'tcpdump', counters: { captured: '1e9' } }));
  site.run('c', NOW, NOW, 1, health({ program: 'nc', counters: null }));
  site.run('d', NOW, NOW, 1, health(null));
  // Counts are non-negative safe integers: a negative, fractional or huge one reads as not reported.
  site.run(
    'e',
    NOW,
    NOW,
    1,
    health({ program: 'tcpdump', counters: { ...counters, droppedByInterface: -5 } }),
  );
  site.run(
    'f',
    NOW,
    NOW,
    1,
    health({ program: 'tcpdump', counters: { ...counters, captured: 1.5 } }),
  );
  site.run(
    'g',
    NOW,
    NOW,
    1,
    health({ program: 'tcpdump', counters: { ...counters, captured: 2 ** 60 } }),
  );
  site.run('h', NOW, NOW, 1, health({ program: 'tcpdump', counters }));
  const got = readFleetView(db, NOW).sites.map((s) => [s.name, s.capture]);
  const tcpdump = (c: unknown) => ({
    program: 'tcpdump',
    counters: c,
    state: 'running',
    reason: null,
    at: NOW,
    stale: false,
  });
  assert.deepEqual(got, [
    ['a', tcpdump(null)],
    ['b', tcpdump(null)],
    ['c', null],
    ['d', null],
    ['e', tcpdump(null)],
    ['f', tcpdump(null)],
    ['g', tcpdump(null)],
    ['h', tcpdump(counters)],
  ]);
  db.close();
});

test("a site's capture state: stopped and stalled with why; a running one not heard of for three health periods is stale; hostile values", () => {
  const db = openFleetDb(':memory:');
  const site = db.prepare(
    'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
  );
  const health = (capture: unknown) => JSON.stringify({ pending: 0, capture });
  const counters = { captured: 5, receivedByFilter: 6, droppedByKernel: 0, droppedByInterface: 0 };
  const base = { program: 'weir-capture', counters };
  const period = 10; // seconds between health records (fleet.health_every_s)
  const rows: Array<[string, unknown]> = [
    [
      'a',
      {
        ...base,
        state: 'stopped',
        reason: 'weir-capture stopped: wn0: The interface disappeared',
        at: NOW - 3_600_000,
      },
    ],
    ['b', { ...base, state: 'stalled', reason: 'no counters for 5 s', at: NOW - 1000 }],
    [
      'c',
      { ...base, state: 'running', reason: 'ignored while running', at: NOW - 3 * period * 1000 },
    ],
    ['d', { ...base, state: 'running', reason: null, at: NOW - 3 * period * 1000 - 1 }],
    // A node from before states: running; with no time it cannot be told fresh, so stale.
    ['e', base],
    ['f', { ...base, state: 'exploded', at: NOW }],
    ['g', { ...base, state: 'stopped', reason: 7, at: 'yesterday' }],
    ['h', { ...base, state: 'stalled', reason: 'x'.repeat(5000), at: -1 }],
    ['i', { ...base, state: ['running'], at: NOW }],
  ];
  for (const [name, c] of rows) site.run(name, NOW, NOW, 1, health(c));
  const got = Object.fromEntries(
    readFleetView(db, NOW, {
      stale_after_s: 60,
      cut_off_after_s: 300,
      health_every_s: period,
    }).sites.map((s) => [s.name, s.capture]),
  );
  const seen = (state: string, reason: string | null, at: number | null, stale: boolean) => ({
    ...base,
    state,
    reason,
    at,
    stale,
  });
  assert.deepEqual(got, {
    // Stopped is final: never stale however old.
    a: seen(
      'stopped',
      'weir-capture stopped: wn0: The interface disappeared',
      NOW - 3_600_000,
      false,
    ),
    b: seen('stalled', 'no counters for 5 s', NOW - 1000, false),
    c: seen('running', null, NOW - 30_000, false),
    d: seen('running', null, NOW - 30_001, true),
    e: seen('running', null, null, true),
    f: null,
    g: seen('stopped', null, null, false),
    h: seen('stalled', 'x'.repeat(300), null, true),
    i: null,
  });
  db.close();
});

test('a capture status from src/capture as a site record: no state reads as running, a stop carries its reason', () => {
  const counters = { captured: 1, receivedByFilter: 1, droppedByKernel: 0, droppedByInterface: 0 };
  assert.deepEqual(captureRecord({ program: 'weir-capture', counters }, NOW), {
    program: 'weir-capture',
    counters,
    state: 'running',
    reason: null,
    at: NOW,
  });
  const stalled = { program: 'tcpdump', counters: null, state: 'stalled', reason: 'silent' };
  assert.deepEqual(captureRecord(stalled as unknown as CaptureStatus, NOW), {
    program: 'tcpdump',
    counters: null,
    state: 'stalled',
    reason: 'silent',
    at: NOW,
  });
});

test('hostile health numbers: a negative, fractional, huge or infinite pending, applied version or blocked count reads as not reported', () => {
  const db = openFleetDb(':memory:');
  const site = db.prepare(
    'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
  );
  const health = (pending: string, applied: string, blocked: string) =>
    `{"pending":${pending},"applied":${applied},"enforcement":{"loaded":true,"gateway":"up","blocked":${blocked},"zones":[]}}`;
  // Written as JSON text: 1e400 parses to Infinity, which JSON.stringify could not write.
  site.run(
    'a',
    NOW,
    NOW,
    1,
    health('-3', '{"policy":-1,"blocklist":2.5,"permits":1e400,"bundle":7}', '-2'),
  );
  site.run('b', NOW, NOW, 1, health('1.5', '{"policy":9007199254740993,"blocklist":"4"}', '0.5'));
  site.run('c', NOW, NOW, 1, health('1e400', '{"policy":0}', '1e400'));
  site.run('d', NOW, NOW, 1, health('"7"', 'null', '"3"'));
  site.run('e', NOW, NOW, 1, health('0', '{"policy":3,"blocklist":0}', '12'));
  const got = readFleetView(db, NOW).sites.map((s) => [
    s.name,
    s.backlog,
    s.applied,
    s.enforcement?.blocked,
  ]);
  const applied = (o: Partial<Record<string, number>>) => ({
    policy: null,
    blocklist: null,
    permits: null,
    bundle: null,
    ...o,
  });
  assert.deepEqual(got, [
    ['a', null, applied({ bundle: 7 }), null],
    ['b', null, applied({}), null],
    ['c', null, applied({ policy: 0 }), null],
    ['d', null, applied({}), null],
    ['e', 0, applied({ policy: 3, blocklist: 0 }), 12],
  ]);
  db.close();
});

test("a capture's staleness does not trust the site's clock: the manager's own time of receipt of the health record counts", () => {
  const db = openFleetDb(':memory:');
  const period = 10;
  const limitMs = 3 * period * 1000; // CAPTURE_STALE_BEATS health periods
  const SKEW = 3_600_000; // an hour
  const counters = { captured: 5, receivedByFilter: 5, droppedByKernel: 0, droppedByInterface: 0 };
  // One site's newest health record: made at `made` (site clock), received by the manager at `received`, its
  // capture last heard of at `heard` (site clock).
  const put = (name: string, made: number, received: number, heard: number) => {
    const body = {
      pending: 0,
      capture: { program: 'weir-capture', counters, state: 'running', reason: null, at: heard },
    };
    db.prepare(
      'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
    ).run(name, received, made, 2, JSON.stringify(body));
    const rec = db.prepare(
      'INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    // An older health record (its times must not be the ones read) and the newest.
    rec.run(`${name}:1`, name, 'health', '{}', 1, made - 60_000, received - 60_000);
    rec.run(`${name}:2`, name, 'health', JSON.stringify(body), 2, made, received);
  };
  const view = (now: number) =>
    Object.fromEntries(
      readFleetView(db, now, {
        stale_after_s: 60,
        cut_off_after_s: 300,
        health_every_s: period,
      }).sites.map((s) => [s.name, [s.capture?.at, s.capture?.stale]]),
    );
  // Site "ahead" runs an hour fast, "behind" an hour slow, "true" on time; each heard from its capture a second
  // before it made the record, which the manager received at NOW.
  put('ahead', NOW + SKEW, NOW, NOW + SKEW - 1000);
  put('behind', NOW - SKEW, NOW, NOW - SKEW - 1000);
  put('true', NOW, NOW, NOW - 1000);
  // Just received: all fresh (the slow site no longer looks stale); the site's own time is what is shown.
  assert.deepEqual(view(NOW), {
    ahead: [NOW + SKEW - 1000, false],
    behind: [NOW - SKEW - 1000, false],
    true: [NOW - 1000, false],
  });
  // Nothing more from any of them: at the limit still fresh, past it all stale (the fast site no longer looks
  // fresh for an hour).
  assert.deepEqual(view(NOW + limitMs - 1000), {
    ahead: [NOW + SKEW - 1000, false],
    behind: [NOW - SKEW - 1000, false],
    true: [NOW - 1000, false],
  });
  assert.deepEqual(view(NOW + limitMs - 999), {
    ahead: [NOW + SKEW - 1000, true],
    behind: [NOW - SKEW - 1000, true],
    true: [NOW - 1000, true],
  });
  db.close();
});

test("a capture's staleness: the site's own age of its capture counts, measured on the site's clock alone; a time after the record's reads as now", () => {
  const db = openFleetDb(':memory:');
  const period = 10;
  const counters = { captured: 5, receivedByFilter: 5, droppedByKernel: 0, droppedByInterface: 0 };
  const put = (name: string, made: number, received: number, heard: number) => {
    const body = {
      pending: 0,
      capture: { program: 'tcpdump', counters, state: 'running', reason: null, at: heard },
    };
    db.prepare(
      'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
    ).run(name, received, made, 1, JSON.stringify(body));
    db.prepare(
      'INSERT INTO fleet_records (id, site, kind, body, stream_seq, at, received) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(`${name}:1`, name, 'health', JSON.stringify(body), 1, made, received);
  };
  const T = NOW + 7_200_000; // a site clock two hours fast
  // The site still beats, but its capture went quiet 31 s before the record (site clock): stale on arrival.
  put('quiet', T, NOW, T - 31_000);
  // Quiet 20 s on the site, and the record 10 s old at the manager: 30 s, at the limit.
  put('edge', T, NOW - 10_000, T - 20_000);
  put('over', T, NOW - 10_001, T - 20_000);
  // A capture time after the record's own (the site's clock stepped back between the two): no older than the record.
  put('stepped', T, NOW - 1000, T + 600_000);
  // No record in the ledger (a manager from before it kept one): the site's newest record time and when the
  // manager last heard from the site stand in.
  db.prepare(
    'INSERT INTO fleet_sites (site, last_seen, last_at, records, health) VALUES (?, ?, ?, ?, ?)',
  ).run(
    'unledgered',
    NOW - 5000,
    T,
    1,
    JSON.stringify({ capture: { program: 'tcpdump', counters, state: 'running', at: T - 26_000 } }),
  );
  const got = Object.fromEntries(
    readFleetView(db, NOW, {
      stale_after_s: 60,
      cut_off_after_s: 300,
      health_every_s: period,
    }).sites.map((s) => [s.name, s.capture?.stale]),
  );
  assert.deepEqual(got, { edge: false, over: true, quiet: true, stepped: false, unledgered: true });
  db.close();
});
