// Layer-2 rules of the bridge ruleset and the judge the simulator shares with them (review 12, R8): pure checks.
// The frames themselves cross a real bridge in layer2-lab.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { Layer2Judge, layer2Zones } from '../../src/policy/layer2.js';
import { policyToYaml } from '../../src/policy/write.js';

const PLC1 = '02:00:00:00:00:21',
  PLC2 = '02:00:00:00:00:22',
  EWS = '02:00:00:00:00:30',
  HMI = '02:00:00:00:00:10',
  ATTACKER = '02:00:00:00:00:66';

const policyText = (
  mode: string,
  layer2 = '{ engineering: [EWS-1], publishers: [PLC-2] }',
  others = '',
): string => `weir: policy/1
timezone: UTC
assets:
  - { name: HMI-1, ip: 10.77.0.10, mac: "${HMI}" }
  - { name: EWS-1, ip: 10.77.0.30, mac: "${EWS.toUpperCase()}" }
  - { name: PLC-1, ip: 10.77.0.21, mac: "${PLC1}" }
  - { name: PLC-2, ip: 10.77.0.22, mac: "${PLC2}" }
  - { name: PLC-3, ip: 10.77.1.23 }
zones:
  - { name: sup, members: [HMI-1, EWS-1], mode: monitor${others} }
  - name: ctl
    members: [PLC-1, PLC-2]
    mode: ${mode}
    layer2: ${layer2}
  - { name: far, members: [PLC-3], mode: enforce${others} }
`;

function compiled(text: string): CompiledPolicy {
  const r = parsePolicy(text, 'p.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return new CompiledPolicy(r.policy);
}

const dcp = (frameId: number, service: number, type: number): Uint8Array =>
  Uint8Array.from([frameId >> 8, frameId & 0xff, service, type, 0, 0, 0, 1, 0, 0, 0, 0]);

test('policy: asset MACs and zone layer2 load (names resolve to MACs, lowercase) and write back', () => {
  const cp = compiled(policyText('enforce'));
  const ctl = cp.policy.zones[1]!;
  assert.deepEqual(ctl.layer2, {
    engineering: [EWS],
    publishers: [PLC2],
    unknownEthertypes: 'log',
  });
  assert.equal(cp.policy.assets[1]!.mac, EWS);
  const again = parsePolicy(policyToYaml(cp.policy), 'p.yaml');
  assert.ok(again.ok);
  assert.deepEqual(again.policy.zones[1]!.layer2, ctl.layer2);
  const bad = parsePolicy(
    policyText(
      'enforce',
      '{ engineering: [PLC-3, "02:00:zz:00:00:01"], unknown_ethertypes: drop }',
    ),
    'p.yaml',
  );
  assert.ok(!bad.ok);
  assert.deepEqual(
    bad.errors.map((e) => e.message),
    ["asset 'PLC-3' has no mac", "'02:00:zz:00:00:01' is not a MAC address or a named asset"],
  );
});

test('judge: DCP Set/Reset to a member only from engineering; Identify, responses and RT pass; GOOSE only from publishers', () => {
  const j = new Layer2Judge(layer2Zones(compiled(policyText('enforce'))));
  const judge = (et: number, src: string, dst: string, b: Uint8Array) =>
    j.judge(et, src, dst, b, 0, b.length)?.kind ?? null;
  assert.equal(judge(0x8892, ATTACKER, PLC1, dcp(0xfefd, 4, 0)), 'dcp_set');
  assert.equal(judge(0x8892, HMI, PLC2, dcp(0xfefd, 4, 0)), 'dcp_set');
  assert.equal(
    judge(0x8892, HMI, PLC2, dcp(0xfefe, 4, 2)),
    'dcp_set',
    'a Set under another DCP frame id',
  );
  assert.equal(judge(0x8892, EWS, PLC1, dcp(0xfefd, 4, 0)), null, 'the engineering station');
  assert.equal(
    judge(0x8892, EWS, 'ff:ff:ff:ff:ff:ff', dcp(0xfefd, 4, 0)),
    'dcp_set',
    'a Set to a group address, whoever sends it',
  );
  assert.equal(judge(0x8892, PLC1, EWS, dcp(0xfefd, 4, 1)), null, 'the response goes back');
  assert.equal(judge(0x8892, PLC2, PLC1, dcp(0xfefd, 4, 1)), null, 'a Set response is no Set');
  assert.equal(judge(0x8892, HMI, '01:0e:cf:00:00:00', dcp(0xfefe, 5, 0)), null, 'Identify');
  assert.equal(judge(0x8892, HMI, PLC1, dcp(0xfefd, 3, 0)), null, 'Get');
  assert.equal(judge(0x8892, PLC2, PLC1, dcp(0x8001, 4, 0)), null, 'RT cyclic');
  // Simulation judges every zone, whatever its mode (the kernel only those in simulate and enforce).
  assert.deepEqual(j.judge(0x8892, ATTACKER, HMI, dcp(0xfefd, 4, 0), 0, 12), {
    zone: 'sup',
    mode: 'monitor',
    kind: 'dcp_set',
  });
  assert.equal(judge(0x88b8, ATTACKER, '01:0c:cd:01:00:01', dcp(1, 0, 0)), 'goose_publisher');
  assert.equal(judge(0x88ba, EWS, '01:0c:cd:04:00:01', dcp(1, 0, 0)), 'goose_publisher');
  assert.equal(judge(0x88b8, PLC2, '01:0c:cd:01:00:01', dcp(1, 0, 0)), null, 'the publisher');
  assert.equal(judge(0x1fefe, ATTACKER, PLC1, dcp(0, 0, 0)), null, 'unknown: logged only');
  const dropping = new Layer2Judge(
    layer2Zones(compiled(policyText('enforce', '{ unknown_ethertypes: drop }'))),
  );
  assert.equal(
    dropping.judge(0x1fefe, ATTACKER, PLC1, dcp(0, 0, 0), 0, 12)?.kind,
    'unknown_ethertype',
    '802.3/LLC (S7 over ISO) where the zone drops unknown ethertypes',
  );
  assert.equal(dropping.judge(0x88cc, ATTACKER, PLC1, dcp(0, 0, 0), 0, 12), null, 'LLDP is known');
  assert.equal(
    dropping.judge(0x88b8, ATTACKER, '01:0c:cd:01:00:01', dcp(1, 0, 0), 0, 12),
    null,
    'no zone names publishers: GOOSE is not judged',
  );
});

test('ruleset: the layer-2 chain drops in enforce, logs in simulate, is absent in monitor and on a router; status lines say what is not filtered', () => {
  type Rule = { chain: string; expr: Array<Record<string, unknown>>; comment?: string };
  const rules = (rs: ReturnType<typeof compileRuleset>): Rule[] =>
    (rs.json.nftables as Array<{ add?: { rule?: Rule } }>)
      .map((c) => c.add?.rule)
      .filter((r): r is Rule => r !== undefined && r.chain === 'layer2');
  const drops = (rs: ReturnType<typeof compileRuleset>): string[] =>
    rules(rs)
      .filter((r) => r.expr.some((e) => 'drop' in e))
      .map((r) => r.comment!);
  // Every zone names its publishers (none for sup and far): GOOSE/SV is dropped bridge-wide.
  const DECLARED = ', layer2: { publishers: [] }';
  const enforcing = compileRuleset(compiled(policyText('enforce', undefined, DECLARED)), {
    family: 'bridge',
  });
  assert.deepEqual(drops(enforcing), [
    'refused: layer 2: PROFINET DCP Set/Reset to zone ctl from a MAC not named engineering',
    'refused: layer 2: PROFINET DCP Set/Reset to a multicast or broadcast address',
    'refused: layer 2: GOOSE/SV from a MAC no zone names as a publisher',
  ]);
  assert.ok(enforcing.refused.includes(drops(enforcing)[0]!));
  assert.ok(
    enforcing.unfiltered.some((x) => /zone far: none of its assets has a mac/.test(x)),
    enforcing.unfiltered.join('\n'),
  );
  assert.ok(enforcing.unfiltered.some((x) => /blocked sources/.test(x)));
  const simulating = compileRuleset(compiled(policyText('simulate')), { family: 'bridge' });
  assert.deepEqual(drops(simulating), [], 'simulate drops nothing');
  assert.deepEqual(
    simulating.refused.filter((x) => /layer 2/.test(x)),
    [
      'would refuse: layer 2: PROFINET DCP Set/Reset to zone ctl from a MAC not named engineering',
      'would refuse: layer 2: PROFINET DCP Set/Reset to a multicast or broadcast address',
      'would refuse: layer 2: GOOSE/SV from a MAC no zone names as a publisher',
    ],
  );
  const monitoring = compiled(policyText('monitor').replace('mode: enforce', 'mode: monitor'));
  assert.deepEqual(rules(compileRuleset(monitoring, { family: 'bridge' })), [], 'monitor: no rule');
  assert.deepEqual(rules(compileRuleset(compiled(policyText('enforce')), { family: 'inet' })), []);
  const unnamed = compileRuleset(compiled(policyText('enforce', '{ unknown_ethertypes: drop }')), {
    family: 'bridge',
  });
  assert.deepEqual(drops(unnamed), [
    'refused: layer 2: PROFINET DCP Set/Reset to zone ctl from a MAC not named engineering',
    'refused: layer 2: unknown ethertypes (802.3/LLC, S7 over ISO) to zone ctl',
    'refused: layer 2: PROFINET DCP Set/Reset to a multicast or broadcast address',
  ]);
  assert.ok(
    unnamed.unfiltered.some((x) => /GOOSE\/SV: no zone in simulate or enforce names/.test(x)),
  );
});

test('safe defaults (review 13, H1, H2): DCP Set/Reset is logged only until a zone names its engineering stations; GOOSE/SV is logged only until every zone names its publishers', () => {
  type Rule = { chain: string; expr: Array<Record<string, unknown>>; comment?: string };
  const drops = (rs: ReturnType<typeof compileRuleset>): string[] =>
    (rs.json.nftables as Array<{ add?: { rule?: Rule } }>)
      .map((c) => c.add?.rule)
      .filter((r): r is Rule => r !== undefined && r.chain === 'layer2')
      .filter((r) => r.expr.some((e) => 'drop' in e))
      .map((r) => r.comment!);
  // What `policy propose` writes: MACs, no layer2 section. The IO controller's Set at a device's start-up passes.
  const proposed = compiled(policyText('enforce', '{}').replace('    layer2: {}\n', ''));
  const rs = compileRuleset(proposed, { family: 'bridge' });
  assert.deepEqual(drops(rs), [], 'nothing dropped at layer 2 by default');
  assert.ok(
    rs.refused.includes(
      'would refuse: layer 2: PROFINET DCP Set/Reset to zone ctl from a MAC not named engineering',
    ),
  );
  assert.ok(
    rs.unfiltered.some((x) =>
      /DCP Set\/Reset to zone ctl: logged only until its layer2.engineering/.test(x),
    ),
  );
  const j = new Layer2Judge(layer2Zones(proposed));
  assert.deepEqual(j.judge(0x8892, ATTACKER, PLC1, dcp(0xfefd, 4, 0), 0, 12), {
    zone: 'ctl',
    mode: 'simulate',
    kind: 'dcp_set',
  });
  // Publishers named by the enforcing zone, but sup and far name none: their IEDs' GOOSE would be cut.
  const partial = compiled(policyText('enforce'));
  const ps = compileRuleset(partial, { family: 'bridge' });
  assert.ok(
    !drops(ps).some((x) => /GOOSE/.test(x)),
    'GOOSE not dropped while a zone names no publishers',
  );
  assert.ok(
    ps.refused.includes('would refuse: layer 2: GOOSE/SV from a MAC no zone names as a publisher'),
  );
  assert.ok(
    ps.unfiltered.some((x) =>
      /GOOSE\/SV from unnamed publishers: logged only while zones sup, far name none/.test(x),
    ),
    ps.unfiltered.join('\n'),
  );
  assert.equal(
    new Layer2Judge(layer2Zones(partial)).judge(
      0x88b8,
      ATTACKER,
      '01:0c:cd:01:00:01',
      dcp(1, 0, 0),
      0,
      12,
    )?.mode,
    'simulate',
  );
});
