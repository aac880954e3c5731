// A full conntrack table drops new connections, plant traffic included, and any plant host can fill it (review
// 12b, B10): status shows the table's fill and the kernel's drops since the apply. The parser reads the kernel's
// per-CPU hex table by column name; the live reading comes from a namespace whose ruleset tracks connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { applyRuleset } from '../../src/enforce/nft.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  conntrackNotice,
  dropsSinceApply,
  parseConntrack,
  readConntrack,
} from '../../src/enforce/conntrack-load.js';
import { canBuildLab } from '../lab/plant.js';

// /proc/net/stat/nf_conntrack of a two-CPU host whose table overflowed (drop 0x10 + 0x2, early_drop 0x5).
const STAT = `entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000003 00000010 00000005 00000000  00000000 00000000 00000000 00000000
00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000  00000000 00000000 00000000 00000000
`;

test('conntrack: drops and early drops summed over CPUs by column name; status speaks when full or dropping', () => {
  const c = parseConntrack('65000\n', '65536\n', STAT);
  assert.deepEqual(c, { entries: 65000, max: 65536, dropped: 18, earlyDropped: 5 });
  const notice = conntrackNotice(c)!;
  assert.match(notice, /dropped 18 new connection/);
  assert.match(notice, /65000 of 65536 entries in use \(99%\)/);
  assert.equal(conntrackNotice({ ...c, entries: 100, dropped: 0 }), null, 'all well: nothing said');
  assert.match(conntrackNotice({ ...c, entries: 100 })!, /dropped 18/);
  assert.equal(conntrackNotice(null), null);
});

test('conntrack: the table of an enforcement namespace is read live', (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('needs root and iproute2');
    return t.skip('needs root');
  }
  const ns = `weir-ctl-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const r = parsePolicy(
      `weir: policy/1
timezone: UTC
zones:
  - { name: a, members: [10.77.0.0/28], mode: monitor }
  - { name: b, members: [10.77.0.21], mode: enforce, simulation_window: 1m }
conduits: [{ name: ab, from: a, to: b }]
groups:
  - { name: g, conduit: ab, clients: [10.77.0.10], servers: [10.77.0.21], ports: [502], access: read-write }
`,
      'p.yaml',
    );
    assert.ok(r.ok);
    applyRuleset(
      { family: 'inet', netns: ns },
      compileRuleset(new CompiledPolicy(r.policy), { family: 'inet' }),
    );
    // The ruleset asks conntrack about replies, so the namespace now tracks: one datagram makes an entry.
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'python3',
      '-c',
      "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', 9))",
    ]);
    const c = readConntrack(ns);
    assert.ok(c !== null, 'read');
    assert.ok(c.entries >= 1, `an entry tracked (${c.entries})`);
    assert.ok(c.max > 0);
    assert.equal(c.dropped, 0);
    assert.match(c.epoch ?? '', /^[0-9a-f-]{36} net:\[[0-9]+\]$/, 'boot id and namespace');
    assert.notEqual(
      c.epoch,
      readConntrack()?.epoch,
      'another namespace: another run of the counters',
    );
    assert.equal(readConntrack('weir-no-such-ns'), null, 'unreadable: null, not a throw');
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test('conntrack: a baseline taken in another boot is not subtracted: drops after a reboot show (review 13, L2)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-boot-'));
  try {
    const bootId = path.join(dir, 'boot_id');
    writeFileSync(bootId, 'aaaaaaaa-0000-4000-8000-000000000001\n');
    const atApply = readConntrack(undefined, { bootIdFile: bootId });
    // Applied long ago: the kernel had counted 5000 drops by then.
    const applied = { conntrackDroppedAtApply: 5000, conntrackEpochAtApply: atApply?.epoch };
    const now = parseConntrack('65536\n', '65536\n', STAT);
    // Same boot, counter still at 5018: 18 since the apply.
    assert.equal(dropsSinceApply({ ...now, dropped: 5018, epoch: atApply?.epoch }, applied), 18);
    // The host rebooted (a new boot id): the kernel counts from 0 again, and its 18 drops are all since.
    writeFileSync(bootId, 'bbbbbbbb-0000-4000-8000-000000000002\n');
    const later = readConntrack(undefined, { bootIdFile: bootId });
    if (atApply !== null && later !== null) assert.notEqual(later.epoch, atApply.epoch);
    assert.equal(dropsSinceApply({ ...now, epoch: later?.epoch ?? 'other' }, applied), 18);
    // A record from a build that kept no boot id: a counter below its baseline restarted.
    assert.equal(dropsSinceApply(now, { conntrackDroppedAtApply: 5000 }), 18);
    assert.equal(dropsSinceApply({ ...now, dropped: 5018 }, { conntrackDroppedAtApply: 5000 }), 18);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
