import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import type { TimeWindow } from '../../src/policy/model.js';
import {
  compileRuleset,
  ELSEWHERE,
  SPOOFED,
  SPOOFED_LOOSE,
} from '../../src/enforce/nft-ruleset.js';
import { utcOffsetOf, utcSpans, windowSchedule } from '../../src/enforce/nft-windows.js';
import { enforcementPlan, gatewayTargets } from '../../src/enforce/steer.js';
import { applyRuleset, blockSource, removeRuleset, status } from '../../src/enforce/nft.js';
import { canBuildLab } from '../lab/plant.js';
import { windowsNotice, type AppliedPolicy } from '../../src/enforce/state.js';

const POLICY = `weir: policy/1
timezone: Europe/Berlin
zones:
  - { name: sup, members: [10.77.0.0/28], mode: monitor }
  - { name: ctl, members: [10.77.0.16/28, 10.77.0.21], mode: enforce, internal: allow }
  - { name: lab, members: [10.77.1.0/24], mode: simulate }
conduits: [{ name: c, from: sup, to: ctl }, { name: l, from: sup, to: lab }]
groups:
  - { name: hmi, conduit: c, clients: [10.77.0.10], servers: [10.77.0.21], protocol: modbus, functions: [3], access: read-only }
  - { name: ews, conduit: c, clients: [10.77.0.0/28], servers: [ctl], ports: [102, 502], access: read-write, windows: [maint] }
  - { name: lab, conduit: l, clients: [10.77.0.10], servers: [10.77.1.5], protocol: dnp3 }
  - { name: hist, conduit: c, clients: [10.77.0.0/28], servers: [10.77.0.21], protocol: modbus }
  - { name: scada, conduit: c, clients: [10.77.0.12], servers: [10.77.0.16/28], protocol: modbus }
windows:
  - { name: maint, days: [sat], from: "22:00", to: "02:00" }
`;

function policy(): CompiledPolicy {
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok);
  return new CompiledPolicy(r.policy);
}

test('time zones: windows become UTC spans for the offset in force, split at midnight', () => {
  assert.equal(utcOffsetOf('Europe/Berlin', new Date('2026-01-15T12:00:00Z')), 3600);
  assert.equal(utcOffsetOf('Europe/Berlin', new Date('2026-07-15T12:00:00Z')), 7200);
  assert.equal(utcOffsetOf('America/New_York', new Date('2026-01-15T12:00:00Z')), -18000);
  const w: TimeWindow = {
    name: 'm',
    days: ['sat'],
    from: 22 * 60,
    to: 2 * 60,
    timezone: 'Europe/Berlin',
  };
  assert.deepEqual(utcSpans(w, utcOffsetOf, new Date('2026-01-15T12:00:00Z')), [
    { day: 5, from: 21 * 60, to: 1440 },
    { day: 6, from: 0, to: 60 },
  ]);
  assert.deepEqual(utcSpans(w, utcOffsetOf, new Date('2026-07-15T12:00:00Z')), [
    { day: 5, from: 20 * 60, to: 1440 },
  ]);
  // Monday 00:30–01:00 in Berlin is Sunday evening in UTC: the week wraps.
  assert.deepEqual(
    utcSpans(
      { ...w, days: ['mon'], from: 30, to: 60 },
      utcOffsetOf,
      new Date('2026-01-15T12:00:00Z'),
    ),
    [{ day: 6, from: 23 * 60 + 30, to: 1440 }],
  );
});

test('time windows are compiled for each stretch of one UTC offset ahead, bounded by meta time (review 12, L2)', () => {
  const w: TimeWindow = {
    name: 'm',
    days: ['sat'],
    from: 22 * 60,
    to: 2 * 60,
    timezone: 'Europe/Berlin',
  };
  const s = windowSchedule(w, utcOffsetOf, new Date('2026-01-15T12:00:00Z'));
  const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
  assert.deepEqual(
    s.periods.map((p) => [iso(p.since), iso(p.until), p.spans.length]),
    [
      [null, '2026-03-29T01:00:00.000Z', 2],
      ['2026-03-29T01:00:00.000Z', '2026-10-25T01:00:00.000Z', 1],
      ['2026-10-25T01:00:00.000Z', '2027-03-28T01:00:00.000Z', 2],
      ['2027-03-28T01:00:00.000Z', '2027-10-31T01:00:00.000Z', 1],
      ['2027-10-31T01:00:00.000Z', null, 2],
    ],
    'winter 21:00–01:00 UTC (two spans), summer 20:00–24:00 (one)',
  );
  assert.equal(iso(s.validUntil), '2028-03-26T01:00:00.000Z', 'the first change not compiled in');
  // A zone without DST keeps one open stretch: the rules are the plain day/hour ones.
  const utc = windowSchedule(
    { ...w, timezone: 'UTC' },
    utcOffsetOf,
    new Date('2026-01-15T12:00:00Z'),
  );
  assert.deepEqual(utc.periods.length, 1);
  assert.equal(utc.validUntil, null);
  const cp = policy();
  const rs = compileRuleset(cp, { family: 'inet', at: new Date('2026-01-15T12:00:00Z') });
  assert.equal(rs.windowsValidUntil, '2028-03-26T01:00:00.000Z');
  const text = JSON.stringify(rs.json);
  assert.match(text, /"op":"<","left":\{"meta":\{"key":"time"\}\},"right":"2026-03-29 01:00:00"/);
  assert.match(text, /"op":">=","left":\{"meta":\{"key":"time"\}\},"right":"2027-10-31 01:00:00"/);
  // Status asks for a re-apply 30 days before the first change not compiled in, and says so plainly after it.
  const applied = { windowsValidUntil: rs.windowsValidUntil! } as AppliedPolicy;
  assert.equal(windowsNotice(applied, Date.parse('2028-01-01T00:00:00Z')), null);
  assert.match(
    windowsNotice(applied, Date.parse('2028-03-01T00:00:00Z'))!,
    /re-apply the policy before then/,
  );
  assert.match(windowsNotice(applied, Date.parse('2028-04-01T00:00:00Z'))!, /open an hour off/);
});

test('the ruleset holds the groups of active zones as set elements, windows as timed rules, and zones by mode', () => {
  const cp = policy();
  const rs = compileRuleset(cp, { family: 'bridge' });
  const text = JSON.stringify(rs.json);
  assert.deepEqual(rs.enforced, ['ctl']);
  assert.deepEqual(rs.simulated, ['lab']);
  const sets = new Map(
    (rs.json.nftables as Array<{ add?: { set?: { name: string; elem?: unknown[] } } }>)
      .filter((c) => c.add?.set)
      .map((c) => [c.add!.set!.name, c.add!.set!.elem ?? []]),
  );
  // hmi (10.77.0.10 → .21) is inside hist (/28 → .21) and is dropped; hist and scada cross, so they go to two sets.
  const allow = [...(sets.get('allow') ?? []), ...(sets.get('allow_1') ?? [])]
    .map((e) => JSON.stringify(e))
    .sort();
  assert.deepEqual(
    allow,
    [
      { concat: ['10.77.0.10', '10.77.1.5', 'tcp', 20000] },
      { concat: ['10.77.0.12', { prefix: { addr: '10.77.0.16', len: 28 } }, 'tcp', 502] },
      { concat: [{ prefix: { addr: '10.77.0.0', len: 28 } }, '10.77.0.21', 'tcp', 502] },
    ]
      .map((e) => JSON.stringify(e))
      .sort(),
  );
  assert.ok(sets.has('allow_1'), 'crossing entries need a second set');
  assert.equal(
    sets.get('allow_w0')!.length,
    2,
    'the EWS block × the control /28 (which holds .21) × two ports',
  );
  assert.deepEqual(
    sets.get('enforced'),
    [{ prefix: { addr: '10.77.0.16', len: 28 } }],
    '10.77.0.21 sits inside the /28 and is merged',
  );
  assert.match(text, /"key":"day"}},"right":"Saturday"/);
  assert.match(text, /weir-would-block/);
  assert.doesNotMatch(text, /steer/);
  // Groups whose servers are a CIDR block are steered server by server (item 6), not widened to a port allow.
  const steer = gatewayTargets(cp, '10.77.0.2');
  assert.deepEqual(
    steer.map((s) => `${s.server}:${s.port}/${s.protocol}`),
    Array.from({ length: 14 }, (_, i) => `10.77.0.${17 + i}:502/modbus`),
    'enforced servers of protocol groups, the /28 expanded',
  );
  const steered = JSON.stringify(
    compileRuleset(cp, {
      family: 'bridge',
      steer: { gatewayIp: '10.77.0.2', targets: steer },
      bridgeMac: '02:00:00:00:00:01',
    }).json,
  );
  assert.match(
    steered,
    /"dnat":\{"addr":"10.77.0.2","port":\{"map":\{"key":\{"concat":\[\{"payload":\{"protocol":"ip","field":"daddr"\}\},\{"payload":\{"protocol":"tcp","field":"dport"\}\}\]\},"data":"@gw_port"\}\}\}/,
    "the listener port comes from the gateway's own leases",
  );
  assert.match(steered, /"right":"@gw_live"/, 'steering only while the gateway renews its leases');
});

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Cmd = { add?: Obj };
const rulesOf = (rs: { json: { nftables: unknown[] } }): Obj[] =>
  (rs.json.nftables as Cmd[]).filter((c) => c.add?.rule).map((c) => c.add!.rule as Obj);

test('replies pass only as replies of tracked connections; a server cannot open its client from the group port (review 12 R1)', () => {
  const cp = policy();
  for (const family of ['bridge', 'inet'] as const) {
    const rules = rulesOf(compileRuleset(cp, { family }));
    const replies = rules.filter(
      (r) => /\(replies\)$/.test(String(r.comment)) && r.chain === 'forward',
    );
    assert.ok(replies.length >= 5, family);
    for (const r of replies) {
      const text = JSON.stringify(r.expr);
      // On a bridge conntrack is read through the mark its inet companion chain sets; a router reads it itself.
      assert.match(
        text,
        family === 'bridge'
          ? /"&":\[\{"meta":\{"key":"mark"\}\},65536\]/
          : /"key":"state"\}\},"right":\["established","related"\]/,
        `${family} ${r.comment}`,
      );
    }
  }
  const bridge = compileRuleset(cp, { family: 'bridge' }).json.nftables as Cmd[];
  const chains = bridge.filter((c) => c.add?.chain).map((c) => c.add!.chain);
  assert.deepEqual(
    chains.filter((c) => c.hook === 'forward').map((c) => `${c.family} ${c.name} ${c.prio}`),
    ['inet replies 0', 'bridge layer2 -10', 'bridge forward 1'],
    "the bridge's forward chain runs after br_netfilter's IP hooks, which mark the replies (the layer-2 chain judges no IP)",
  );
});

test('a spoofed first packet makes no reply: on a bridge a reply must leave by the port its connection came in on, a router refuses spoofed sources (enforce drops, simulate logs); ICMP errors only of tracked connections (review 12b B0, review 12 L1)', () => {
  const cp = policy();
  const bridge = rulesOf(compileRuleset(cp, { family: 'bridge' }));
  // Every frame's port goes into the mark, bit by bit (nft compares a register with constants only).
  assert.equal(bridge.filter((r) => r.chain === 'ports').length, 1 + 13);
  const conntrack = JSON.stringify(bridge.filter((r) => r.chain === 'replies').map((r) => r.expr));
  assert.match(conntrack, /"right":"new"\}\},\{"jump":\{"target":"first"\}\}/);
  assert.match(
    conntrack,
    /"key":"direction"\}\},"right":"reply"/,
    'replies only in the reply direction',
  );
  const forward = bridge.filter((r) => r.chain === 'forward' && r.family === 'bridge');
  assert.equal(
    forward[0]!.comment,
    'replies leave by the port their connection came in on',
    'checked before any reply rule',
  );
  assert.equal(bridge.filter((r) => r.chain === 'reply_port').length, 2 * 13);
  const icmp = (rules: Obj[]): string =>
    JSON.stringify(rules.find((r) => /^ICMP errors/.test(String(r.comment)))!.expr);
  assert.match(icmp(bridge), /"&":\[\{"meta":\{"key":"mark"\}\},1073741824\]/);
  const router = rulesOf(compileRuleset(cp, { family: 'inet' }));
  assert.match(icmp(router), /"key":"state"\}\},"right":"related"/);
  // The router: strict reverse path before any accept, dropping only where a zone enforces.
  const fwd = router.filter((r) => r.chain === 'forward');
  const spoofed = fwd.filter((r) => /"fib"/.test(JSON.stringify(r.expr)));
  assert.ok(fwd.indexOf(spoofed[0]!) === 0, 'before the permits and groups');
  const drops = (rs: Obj[]): string[] =>
    rs.filter((r) => (r.expr as Obj[]).some((e) => 'drop' in e)).map((r) => JSON.stringify(r.expr));
  assert.equal(drops(spoofed).length, 2);
  for (const d of drops(spoofed)) assert.match(d, /"@enforced"/);
  assert.ok(
    spoofed.some(
      (r) => /"@simulated"/.test(JSON.stringify(r.expr)) && /would refuse/.test(r.comment),
    ),
  );
  assert.ok(!bridge.some((r) => /"fib"/.test(JSON.stringify(r.expr))), 'a bridge does not route');
});

test("bridge: a TCP connection picked up mid-stream counts its first port's packets as replies (never a SYN); only Weir's ct mark bits are written; replies copied to other ports are dropped without a log line (review 13, M1, L5, L4)", () => {
  const cp = policy();
  const bridge = rulesOf(compileRuleset(cp, { family: 'bridge' }));
  const inChain = (name: string): string[] =>
    bridge.filter((r) => r.chain === name).map((r) => JSON.stringify(r.expr));
  // L5: the first rule clears Weir's bits of the ct mark only (ports 17-29, pickup 16); each is then set alone.
  const first = inChain('first');
  assert.match(first[0]!, /"&":\[\{"ct":\{"key":"mark"\}\},3221291007\]/);
  assert.equal(first.filter((r) => /"\|":\[\{"ct":\{"key":"mark"\}\}/.test(r)).length, 13 + 1);
  assert.ok(
    !JSON.stringify(bridge).includes('"key":{"ct":{"key":"mark"}},"value":{"&":[{"meta"'),
    'no ct mark from the whole meta mark',
  );
  // M1: picked up = first packet without SYN; such a connection's original direction counts by its first port.
  assert.match(
    first.at(-1)!,
    /"op":"!","left":\{"payload":\{"protocol":"tcp","field":"flags"\}\},"right":"syn"/,
  );
  const pickup = inChain('replies').find((r) => /"right":"original"/.test(r))!;
  assert.match(pickup, /"right":"established"/);
  assert.match(pickup, /"&":\[\{"ct":\{"key":"mark"\}\},65536\]\},"right":65536/);
  assert.match(pickup, /"right":"syn"/, 'a SYN never counts: no connection is opened that way');
  const port = inChain('pickup');
  assert.equal(
    port.filter((r) => /"return"/.test(r)).length,
    2 * 13,
    'entering by another port: no reply',
  );
  assert.match(port.at(-1)!, /"mangle".*65536/);
  // L4: a reply leaving by another port loses its port bits too; dropped quietly, only where a zone enforces.
  for (const r of inChain('reply_port'))
    assert.match(r, /"&":\[\{"meta":\{"key":"mark"\}\},3221291007\]/);
  const quiet = (rs: Obj[], mode: string): Obj[] =>
    rs.filter((r) => r.comment === `${mode}: ${ELSEWHERE}`);
  const enforcing = quiet(bridge, 'enforce');
  assert.equal(enforcing.length, 2);
  for (const r of enforcing) {
    const text = JSON.stringify(r.expr);
    assert.match(text, /"drop"/);
    assert.ok(!/"log"/.test(text));
  }
  const all = bridge.filter((r) => r.chain === 'forward' && r.family === 'bridge');
  assert.ok(all.indexOf(enforcing[0]!) < all.findIndex((r) => r.comment === 'enforce: log'));
  assert.equal(quiet(bridge, 'simulate').length, 2, 'the simulating zone: counted, passed');
  const parsed = parsePolicy(POLICY.replace(/mode: enforce/g, 'mode: simulate'), 'p.yaml');
  assert.ok(parsed.ok);
  const sim = rulesOf(compileRuleset(new CompiledPolicy(parsed.policy), { family: 'bridge' }));
  assert.equal(quiet(sim, 'enforce').length, 0);
  for (const r of quiet(sim, 'simulate')) assert.match(JSON.stringify(r.expr), /"accept"/);
  assert.equal(quiet(sim, 'simulate').length, 2);
  assert.equal(quiet(rulesOf(compileRuleset(cp, { family: 'inet' })), 'enforce').length, 0);
});

test('stacked VLAN tags and IPv6 are refused while a zone enforces, only logged while zones simulate, untouched in monitor (review 12 R2, R3)', () => {
  const compile = (text: string, family: 'bridge' | 'inet' = 'bridge') => {
    const r = parsePolicy(text, 'p.yaml');
    assert.ok(r.ok);
    return compileRuleset(new CompiledPolicy(r.policy), { family });
  };
  // Drops besides "enforce: drop", which matches the set of enforced zones (empty unless one enforces).
  const drops = (rs: ReturnType<typeof compile>): string[] =>
    rulesOf(rs)
      .filter((r) => (r.expr as Array<Record<string, unknown>>).some((e) => 'drop' in e))
      .map((r) => String(r.comment))
      .filter((c) => c !== 'enforce: drop');
  const enforcing = compile(POLICY);
  assert.deepEqual(enforcing.refused, [
    'refused: frames still VLAN-tagged after the kernel strips one tag (stacked 802.1Q/802.1ad)',
    'refused: IPv6 (the policy names no IPv6 address; neighbour discovery passes)',
  ]);
  const guard = rulesOf(enforcing).filter((r) => r.chain === 'guard');
  assert.match(
    JSON.stringify(guard[1]!.expr),
    /"key":"protocol"\}\},"right":\{"set":\["8021q","8021ad"\]\}/,
  );
  assert.ok(drops(enforcing).includes(enforcing.refused[1]!));
  assert.deepEqual(
    compile(POLICY, 'inet').refused,
    [`refused: ${SPOOFED}`, enforcing.refused[1]],
    'a router forwards no frames: only IPv6 (and spoofed sources) are refused there',
  );
  // Simulate and monitor drop nothing: the would-be refusals are logged and counted.
  const simulating = compile(POLICY.replace('mode: enforce', 'mode: simulate'));
  assert.deepEqual(simulating.enforced, []);
  assert.deepEqual(drops(simulating), [
    'blocked source',
    'blocked source (replies)',
    'blocked IPv6 source',
    'blocked IPv6 source (replies)',
  ]);
  assert.deepEqual(
    simulating.refused.map((x) => x.split(' (')[0]),
    [
      'would refuse: frames still VLAN-tagged after the kernel strips one tag',
      'would refuse: IPv6',
    ],
  );
  const monitoring = compile(
    POLICY.replace('mode: enforce', 'mode: monitor').replace('mode: simulate', 'mode: monitor'),
  );
  assert.deepEqual(monitoring.refused, []);
  assert.equal(drops(monitoring).length, 4, 'blocks only');
  // A policy that names IPv6 is not refused IPv6, and is told that IPv6 then passes unchecked.
  const named = compile(
    POLICY.replace(
      'members: [10.77.0.16/28, 10.77.0.21]',
      'members: [10.77.0.16/28, 10.77.0.21, fd00:77::/64]',
    ),
  );
  assert.deepEqual(named.refused, [enforcing.refused[0]]);
  assert.ok(
    named.warnings.some((w) => /zone ctl: .*IPv6 passes unchecked/.test(w)),
    named.warnings.join('\n'),
  );
});

test('enforcement plan: limits nothing would check are refused by name, never widened to a port allow (item 6)', () => {
  const r = parsePolicy(
    `weir: policy/1
zones:
  - { name: sup, members: [10.0.0.0/28], mode: monitor }
  - { name: ctl, members: [10.0.1.0/29], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: modbus-zone, conduit: c, clients: [10.0.0.10], servers: [ctl], protocol: modbus }
  - { name: iec104, conduit: c, clients: [10.0.0.10], servers: [10.0.1.2], protocol: iec104, functions: [100] }
  - { name: dnp3-udp, conduit: c, clients: [10.0.0.10], servers: [10.0.1.3], protocol: dnp3, transport: udp }
  - { name: bacnet-whole, conduit: c, clients: [10.0.0.10], servers: [10.0.1.4], protocol: bacnet, access: read-write }
  - { name: no-protocol, conduit: c, clients: [10.0.0.10], servers: [10.0.1.5], ports: [8080] }
  - { name: no-protocol-rw, conduit: c, clients: [10.0.0.10], servers: [10.0.1.5], ports: [22], access: read-write }
`,
    'p.yaml',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  const cp = new CompiledPolicy(r.policy);
  const plan = enforcementPlan(cp, '10.0.0.2');
  assert.deepEqual(
    plan.targets.map((x) => `${x.server}:${x.port}/${x.protocol}`),
    [
      '10.0.1.1:502/modbus',
      '10.0.1.2:502/modbus',
      '10.0.1.2:2404/iec104',
      '10.0.1.3:502/modbus',
      '10.0.1.4:502/modbus',
      '10.0.1.5:502/modbus',
      '10.0.1.6:502/modbus',
    ],
  );
  assert.deepEqual(
    plan.unenforceable.map((u) => u.group),
    ['dnp3-udp', 'no-protocol'],
  );
  assert.deepEqual(
    plan.portLevel.map((u) => u.group),
    ['bacnet-whole', 'no-protocol-rw'],
  );
  const none = enforcementPlan(cp, null);
  assert.ok(
    none.unenforceable.some((u) => u.group === 'modbus-zone' && /no gateway/.test(u.why)),
    'without a gateway, protocol groups are not silently port-level',
  );
  assert.ok(
    enforcementPlan(cp, null, { portLevelOk: true }).portLevel.some(
      (u) => u.group === 'modbus-zone',
    ),
    'unless the people applying accept it',
  );
});

test('nft accepts the compiled ruleset (check mode, in a namespace of its own)', (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-nftc-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-nftc-'));
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const cp = policy();
    for (const family of ['bridge', 'inet'] as const) {
      const rs = compileRuleset(cp, {
        family,
        steer: { gatewayIp: '10.77.0.2', targets: gatewayTargets(cp, '10.77.0.2') },
        bridgeMac: '02:00:00:00:00:01',
      });
      const f = path.join(dir, `${family}.json`);
      writeFileSync(f, JSON.stringify(rs.json));
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-c', '-j', '-f', f], {
        env: { ...process.env, TZ: 'UTC' },
      });
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('apply is atomic and checked: a refused ruleset changes nothing, a mismatch restores the previous one, blocks survive', (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-nfta-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const target = { family: 'bridge' as const, netns: ns };
  try {
    const cp = policy();
    const good = compileRuleset(cp, { family: 'bridge' });
    assert.equal(applyRuleset(target, good).changed, true);
    blockSource(target, '10.77.0.66', 300);
    const before = status(target);
    // nft itself refuses this one: the kernel transaction never starts.
    const refused = structuredClone(good);
    (refused.json.nftables as Array<{ add?: { set?: { type: unknown } } }>).find(
      (c) => c.add?.set,
    )!.add!.set!.type = 'no_such_type';
    assert.throws(() => applyRuleset(target, refused), /nft refused the ruleset/);
    // This one loads but reads back differently than compiled: the previous ruleset is put back.
    const odd = structuredClone(good);
    odd.json.nftables.push({
      add: {
        rule: {
          family: 'bridge',
          table: 'weir',
          chain: 'forward',
          expr: [
            {
              match: {
                op: '==',
                left: { payload: { protocol: 'ip', field: 'saddr' } },
                right: { set: ['10.9.9.9'] },
              },
            },
            { accept: null },
          ],
        },
      },
    });
    assert.throws(() => applyRuleset(target, odd), /previous ruleset restored/);
    const after = status(target);
    assert.deepEqual(
      after.blocked.map((b) => b.ip),
      ['10.77.0.66'],
      'the block survived both attempts',
    );
    assert.equal(after.counters.length, before.counters.length);
    assert.equal(applyRuleset(target, good).changed, false, 'what runs is the good ruleset again');
    assert.equal(removeRuleset(target), true);
    assert.equal(status(target).loaded, false);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test('stealth: the bridge table holds back every frame the host itself sends; routers and gateway steering are refused', (t) => {
  const cp = policy();
  const rs = compileRuleset(cp, { family: 'bridge', stealth: true });
  assert.equal(rs.stealth, true);
  const cmds = rs.json.nftables as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const chain = cmds.find((c) => c.add?.chain?.name === 'stealth')?.add.chain;
  assert.deepEqual(
    { hook: chain?.hook, family: chain?.family, policy: chain?.policy },
    { hook: 'output', family: 'bridge', policy: 'accept' },
  );
  const rules = cmds.filter((c) => c.add?.rule?.chain === 'stealth').map((c) => c.add.rule);
  assert.equal(rules.length, 1);
  assert.deepEqual(rules[0].expr, [{ counter: null }, { drop: null }], 'all of it, not a list');
  assert.equal(compileRuleset(cp, { family: 'bridge' }).stealth, false);
  assert.ok(
    !(compileRuleset(cp, { family: 'bridge' }).json.nftables as Array<Record<string, any>>).some(
      (c) => c.add?.chain?.name === 'stealth',
    ),
  );
  assert.throws(() => compileRuleset(cp, { family: 'inet', stealth: true }), /a router is a hop/);
  assert.throws(
    () =>
      compileRuleset(cp, {
        family: 'bridge',
        stealth: true,
        steer: { gatewayIp: '10.77.0.2', targets: gatewayTargets(cp, '10.77.0.2') },
        bridgeMac: '02:00:00:00:00:01',
      }),
    /cannot steer to the gateway/,
  );
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-nfts-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-nfts-'));
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const f = path.join(dir, 'stealth.json');
    writeFileSync(f, JSON.stringify(rs.json));
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-c', '-j', '-f', f], {
      env: { ...process.env, TZ: 'UTC' },
    });
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('router: the reverse-path check is strict by default and loose on request (review 13, M3: asymmetric routing)', () => {
  const fibFlags = (rs: ReturnType<typeof compileRuleset>): unknown[] =>
    rulesOf(rs)
      .flatMap((r) => r.expr as Obj[])
      .filter((e) => e.match?.left?.fib)
      .map((e) => e.match.left.fib.flags);
  const strict = compileRuleset(policy(), { family: 'inet' });
  assert.ok(fibFlags(strict).length > 0);
  assert.ok(fibFlags(strict).every((f) => JSON.stringify(f) === '["saddr","iif"]'));
  assert.ok(strict.refused.includes(`refused: ${SPOOFED}`));
  const loose = compileRuleset(policy(), { family: 'inet', looseReversePath: true });
  assert.ok(fibFlags(loose).every((f) => JSON.stringify(f) === '["saddr"]'));
  assert.ok(loose.refused.includes(`refused: ${SPOOFED_LOOSE}`));
  assert.ok(!loose.refused.includes(`refused: ${SPOOFED}`));
});
