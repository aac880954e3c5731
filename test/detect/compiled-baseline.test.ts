// The baseline compiled for detection (issue 18): an edge's profile must be found exactly when the baseline keys
// the edge's id, every learned part a detector reads must be what the file says, and
// the compiled form must keep none of the parsed document's edge records alive (so the parsed baseline can be
// dropped before the capture pass instead of being promoted and marked through it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Baseline, EdgeProfile } from '../../src/discover/baseline.js';
import { edgeId, type EdgeAddress, type EdgeTransport } from '../../src/discover/edge-table.js';
import { CompiledBaseline, pointsOf } from '../../src/detect/profile.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { feed, learn, msg, tcp, HMI, PLC } from './synthetic.js';
import { learnedEdge } from '../helpers/edge-profile.js';

function profile(id: string, over: Partial<EdgeProfile> = {}): EdgeProfile {
  const [client, rest] = id.split('>') as [string, string];
  const ends = { id, client, server: rest.split('/')[0]!, transport: 'tcp' as const, port: 502 };
  return learnedEdge(ends, { reads: { holding_register: [[0, 9]] }, ...over });
}

function baselineOf(edges: EdgeProfile[]): Baseline {
  return {
    version: 1,
    createdAt: '2026-11-27T00:00:00.000Z',
    sources: [],
    note: '',
    from: 0,
    to: 0,
    assets: [],
    macs: { '10.0.0.1': '00:11:22:33:44:55' },
    edges: Object.fromEntries(edges.map((e) => [e.id, e])),
  };
}

function addr(
  client: string,
  server: string,
  transport: EdgeTransport,
  port: number,
  proto: number,
): EdgeAddress {
  return {
    id: edgeId(client, server, transport, port, proto),
    client,
    server,
    transport,
    port,
    proto,
  };
}

test('an edge is found exactly when the baseline keys it by its id text', () => {
  const ids = [
    '10.0.0.1>10.0.0.2/tcp/502',
    '10.0.0.1>10.0.0.2/udp/502',
    '10.0.0.1>10.0.0.2/tcp/0',
    '10.0.0.3>10.0.0.2/tcp/502',
    '10.0.0.1>10.0.0.2/ip/1',
    '10.0.0.1>10.0.0.2/ip/6', // never an edge of the table (TCP is 'tcp'): must not stand for tcp/0
    '010.0.0.1>10.0.0.2/tcp/502', // not as the dissector writes addresses: never matches a packet's edge
    '10.0.0.1>10.0.0.2/tcp/0502',
    'fe80::1>fe80::2/udp/47808',
    '192.168.1.200>192.168.1.1/udp/47808',
  ];
  const b = baselineOf(ids.map((id, i) => profile(id, { requests: i })));
  const cb = new CompiledBaseline(b);
  const asked: EdgeAddress[] = [];
  for (const c of ['10.0.0.1', '10.0.0.3', '010.0.0.1', 'fe80::1', '192.168.1.200', '10.0.0.2'])
    for (const s of ['10.0.0.2', 'fe80::2', '192.168.1.1', '10.0.0.1'])
      for (const [t, proto] of [
        ['tcp', 6],
        ['udp', 17],
        ['ip', 1],
        ['ip', 6],
        ['ip', 47],
      ] as const)
        for (const port of t === 'ip' ? [0] : [0, 502, 47808, 65535])
          asked.push(addr(c, s, t, port, proto));
  let found = 0;
  for (const a of asked) {
    const want = Object.hasOwn(b.edges, a.id) ? b.edges[a.id]! : undefined;
    const p = cb.profileOf(a);
    assert.equal(p === null, want === undefined, a.id);
    if (p !== null) {
      found++;
      assert.equal(p.learned.requests, want!.requests, a.id);
      assert.equal(p.learned.server, want!.server, a.id);
    }
    const byId = cb.profile(a.id);
    assert.equal(byId?.learned.requests, want?.requests, a.id);
  }
  // Every edge but the one whose port no address writes ('0502') was asked for and found.
  assert.equal(found, ids.length - 1);
  for (const id of ids) assert.equal(cb.profile(id)?.learned.requests, ids.indexOf(id), id);
});

test("a compiled profile reads what the baseline file says, and holds none of the parsed edges' records", () => {
  const b = learn();
  const e = Object.values(b.edges)[0]!;
  e.writes = { holding_register: [[5, 9]] };
  e.values = { 'holding_register:5': [1, 3] };
  e.pollInterval = 0.5;
  e.pollJitter = 0.01;
  e.anomalyKinds = ['modbus:bad_length'];
  const other = profile('10.1.0.30>10.1.0.20/udp/47808', {
    protocols: ['bacnet', 'modbus'],
    functions: ['bacnet:12', 'bacnet:14'],
    anomalyKinds: ['modbus:bad_length'],
    pollInterval: 2,
    pollJitter: null,
  });
  b.edges[other.id] = other;
  const copy = structuredClone(b);
  const cb = new CompiledBaseline(b);
  for (const [id, want] of Object.entries(copy.edges)) {
    const p = cb.profile(id)!;
    const l = p.learned;
    assert.deepEqual(
      {
        server: l.server,
        protocols: l.protocols,
        functions: l.functions,
        writes: l.writes,
        values: l.values,
        pollInterval: l.pollInterval,
        pollJitter: l.pollJitter,
        maxRequestGap: l.maxRequestGap,
        requestRate: l.requestRate,
        requests: l.requests,
        anomalyKinds: l.anomalyKinds,
      },
      {
        server: want.server,
        protocols: want.protocols,
        functions: want.functions,
        writes: want.writes,
        values: want.values,
        pollInterval: want.pollInterval,
        pollJitter: want.pollJitter,
        maxRequestGap: want.maxRequestGap,
        requestRate: want.requestRate,
        requests: want.requests,
        anomalyKinds: want.anomalyKinds,
      },
      id,
    );
    assert.equal(p.hasValues, Object.keys(want.values).length > 0, id);
    assert.deepEqual([...p.protocols], want.protocols, id);
    assert.equal(p.functions.size, want.functions.length, id);
    assert.deepEqual(
      [...p.writes].map(([s, r]) => [s, r.toArray()]),
      Object.entries(want.writes),
      id,
    );
  }
  assert.deepEqual([...pointsOf(cb.profile(e.id)!).get('holding_register')!], [[5, [1, 3]]]);
  // Nothing reachable from the compiled baseline is the parsed document, one of its edge records or their reads.
  const parsed = new Set<unknown>([b, b.edges, b.assets]);
  for (const r of Object.values(b.edges)) parsed.add(r).add(r.reads);
  const seen = new Set<unknown>();
  const walk = (v: unknown, path: string): void => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return;
    seen.add(v);
    assert.ok(!parsed.has(v), `the compiled baseline keeps a parsed record at ${path}`);
    if (ArrayBuffer.isView(v)) return;
    if (v instanceof Map)
      for (const [k, x] of v) (walk(k, `${path}<key>`), walk(x, `${path}.get()`));
    else if (v instanceof Set) for (const x of v) walk(x, `${path}<item>`);
    else
      for (const k of Reflect.ownKeys(v))
        walk((v as Record<PropertyKey, unknown>)[k], `${path}.${String(k)}`);
  };
  walk(cb, 'compiled');
  assert.ok(seen.size > 10);
});

test('a baseline written before anomaly kinds and the longest pause were learned still loads and detects', () => {
  const b = learn();
  for (const e of Object.values(b.edges)) {
    const old = e as Partial<EdgeProfile>;
    delete old.anomalyKinds;
    delete old.maxRequestGap;
  }
  const eng = new DetectionEngine(b);
  const p = tcp(5000, HMI, 40000, PLC, 502);
  feed(eng, p, msg(p, 'modbus', { role: 'request', func: 16, unit: 1 }));
  const bad = tcp(5001, HMI, 40000, PLC, 502);
  feed(
    eng,
    bad,
    msg(bad, 'modbus', {
      role: 'request',
      func: 3,
      unit: 1,
      anomaly: { kind: 'bad_length', detail: 'length field beyond the PDU' },
    }),
  );
  const types = eng.finish().map((d) => d.type);
  assert.ok(types.includes('function_outside_profile'), types.join());
  assert.ok(types.includes('malformed_pdu'), types.join());
});

test('neighbouring edges with the same, longer, shorter or no lists each keep their own', () => {
  const lists: string[][] = [
    ['modbus'],
    ['modbus'],
    ['modbus', 's7comm'],
    ['modbus'],
    ['s7comm'],
    [],
    ['modbus'],
    ['s7comm', 'modbus'],
    ['modbus', 's7comm'],
  ];
  const b = baselineOf(
    lists.map((l, i) =>
      profile(`10.0.0.${i + 1}>10.0.1.1/tcp/502`, {
        protocols: l,
        functions: l.map((p) => `${p}:3`),
        anomalyKinds: l.map((p) => `${p}:bad_length`),
      }),
    ),
  );
  const cb = new CompiledBaseline(b);
  lists.forEach((l, i) => {
    const p = cb.profile(`10.0.0.${i + 1}>10.0.1.1/tcp/502`)!;
    assert.deepEqual(p.learned.protocols, l, String(i));
    assert.deepEqual(
      p.learned.functions,
      l.map((x) => `${x}:3`),
      String(i),
    );
    assert.deepEqual(
      p.learned.anomalyKinds,
      l.map((x) => `${x}:bad_length`),
      String(i),
    );
    assert.deepEqual([...p.protocols], l, String(i));
    assert.equal(p.functions.size, l.length, String(i));
  });
});
