// Review 14b, F2: this build reads OPC UA and DNP3 addresses another way (Call targets are 'object|method', opaque
// NodeIds base64, DNP3 "all points" on a point group is every index). A policy written, learned or proposed by an
// older build is then refused where it passed, with no simulation having shown it: Weir names what to rewrite,
// at `policy validate`/`simulate`, `enforce apply` (also in its audit), `enforce status` and the gateway's start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { legacyAddressWarnings } from '../../src/policy/legacy-addresses.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { cli, weir } from '../helpers/weir-cli.js';
import { writeApplied } from '../../src/enforce/state.js';
import { canBuildLab } from '../lab/plant.js';

const policy = (groups: string, templates = ''): string => `weir: policy/1
timezone: UTC
zones:
  - { name: sup, members: [10.78.0.10], mode: observe, approvals: [security] }
  - { name: ctl, members: [10.78.0.21], mode: simulate, approvals: [security] }
conduits:
  - { name: sup-ctl, from: sup, to: ctl }
groups:
${groups}${templates}`;

const OLD = policy(`  - name: hmi-ua
    conduit: sup-ctl
    clients: [10.78.0.10]
    servers: [10.78.0.21]
    protocol: opcua
    access: read-write
    addresses:
      "ns=2;s=Line1.Setpoint": [13]
      "ns=2;s=Open": [0]
      "ns=3;b=16bytes": [13]
  - name: scada-dnp3
    conduit: sup-ctl
    clients: [10.78.0.10]
    servers: [10.78.0.21]
    protocol: dnp3
    access: read-write
    functions: [1, 9]
    addresses:
      g20v0: [0-15]
      g1v0: [0-63]
      g60v1: [0]
`);

const NEW = policy(`  - name: hmi-ua
    conduit: sup-ctl
    clients: [10.78.0.10]
    servers: [10.78.0.21]
    protocol: opcua
    access: read-write
    addresses:
      "ns=2;s=Line1.Setpoint": [13]
      "ns=2;s=ValveA|ns=2;s=Open": [0]
      "ns=3;b=AAECAwQFBgcICQoLDA0ODw==": [13]
  - name: scada-dnp3
    conduit: sup-ctl
    clients: [10.78.0.10]
    servers: [10.78.0.21]
    protocol: dnp3
    access: read-write
    functions: [1, 9]
    addresses:
      g20v0: [0-4294967295]
      g1v0: [0-4294967295]
      g60v1: [0]
  - name: operate-only
    conduit: sup-ctl
    clients: [10.78.0.10]
    servers: [10.78.0.21]
    protocol: dnp3
    access: read-write
    functions: [3, 4, 5]
    addresses:
      g12v1: [0-7]
`);

const warningsOf = (text: string): string[] => {
  const r = parsePolicy(text, 'p.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return legacyAddressWarnings(r.policy);
};

test('addresses in the forms of an older Weir are named, with the rewrite', () => {
  const w = warningsOf(OLD);
  assert.equal(w.length, 3, JSON.stringify(w, null, 1));
  assert.match(
    w[0]!,
    /^group hmi-ua \(opcua\): opaque NodeId\(s\) written by length, the form of an older Weir: 'ns=3;b=16bytes';.*ns=N;b=<base64/,
  );
  assert.match(
    w[1]!,
    /^group hmi-ua \(opcua\): Call\(s\) addressed by method alone, the form of an older Weir: 'ns=2;s=Open': \[0\];.*'<object>\|<method>'/,
  );
  assert.doesNotMatch(w[1]!, /Line1\.Setpoint/, 'an attribute address is not a Call');
  assert.match(
    w[2]!,
    /^group scada-dnp3 \(dnp3\): an "all points" request \(qualifier 0x06.*Listed without it: g20v0, g1v0\..*0-4294967295/,
  );
  assert.doesNotMatch(w[2]!, /g60v1/, 'class objects name no points');
});

test('a policy in the new forms, or one whose functions send no all-points request, gives no warning', () => {
  assert.deepEqual(warningsOf(NEW), []);
});

test('a DNP3 list naming no point group at all, and a permit template, are warned about too', () => {
  const w = warningsOf(
    policy(
      `  - { name: classes, conduit: sup-ctl, clients: [10.78.0.10], servers: [10.78.0.21], protocol: dnp3, addresses: { g60v2: [0] } }
`,
      `assets: [{ name: RTU, ip: 10.78.0.21 }]
permit_templates:
  - { name: ua-maint, directory_groups: ["cn=ot,dc=plant"], zone: ctl, servers: [RTU], protocol: opcua, access: read-write, max_ttl: 1h, addresses: { "b=4bytes|ns=2;s=Reset": [0] } }
`,
    ),
  );
  assert.equal(w.length, 2, JSON.stringify(w, null, 1));
  assert.match(w[0]!, /^group classes \(dnp3\):.*No point group here lists it/);
  assert.match(
    w[1]!,
    /^permit template ua-maint \(opcua\): opaque NodeId\(s\) written by length.*'b=4bytes\|ns=2;s=Reset'/,
  );
});

test('enforce apply --dry-run and policy validate print the upgrade warnings', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-legacy-addr-'));
  try {
    const file = path.join(dir, 'old.yaml');
    writeFileSync(file, OLD);
    let r = await weir(['enforce', 'apply', '--port-level-ok', '--policy', file, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /"nftables"/);
    assert.match(
      r.stderr,
      /upgrade: group hmi-ua \(opcua\): opaque NodeId\(s\) written by length.*'ns=3;b=16bytes'/,
    );
    assert.match(
      r.stderr,
      /upgrade: group hmi-ua \(opcua\): Call\(s\) addressed by method alone.*'ns=2;s=Open': \[0\]/,
    );
    assert.match(r.stderr, /upgrade: group scada-dnp3 \(dnp3\): an "all points" request/);
    r = await weir(['policy', 'validate', file]);
    assert.equal(r.code, 0, 'a warning, not an error');
    assert.match(r.stderr, /old\.yaml: upgrade: group scada-dnp3 \(dnp3\)/);
    const fresh = path.join(dir, 'new.yaml');
    writeFileSync(fresh, NEW);
    r = await weir(['enforce', 'apply', '--port-level-ok', '--policy', fresh, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /upgrade:/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'enforce status and the gateway start log name the applied policy old-form addresses',
  { skip: !canBuildLab() && 'needs root and network namespaces' },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-legacy-addr-st-'));
    const ns = 'weir-f2-legacy';
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      writeApplied(dir, {
        sha: '0'.repeat(64),
        source: 'old.yaml',
        text: OLD,
        appliedAt: new Date().toISOString(),
        actor: 'test',
        family: 'bridge',
        gatewayIp: null,
      });
      const st = await weir(['enforce', 'status', '--json', '--netns', ns, '--state-dir', dir]);
      assert.equal(st.code, 0, st.stderr);
      const w = (JSON.parse(st.stdout) as { upgradeWarnings: string[] }).upgradeWarnings;
      assert.equal(w.length, 3, st.stdout);
      assert.match(w[2]!, /^group scada-dnp3 \(dnp3\): an "all points" request/);

      const file = path.join(dir, 'old.yaml');
      writeFileSync(file, OLD);
      // Inside the namespace: its steering leases touch that namespace's nftables only.
      const gw = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          ns,
          process.execPath,
          cli,
          'gateway',
          '--policy',
          file,
          '--listen',
          '127.0.0.1',
          '--state-dir',
          dir,
        ],
        { timeout: 6000, killSignal: 'SIGTERM', encoding: 'utf8' },
      );
      const first = JSON.parse(gw.stdout.split('\n')[0]!) as Record<string, unknown>;
      assert.equal(first.event, 'policy_upgrade_warning', gw.stdout + gw.stderr);
      assert.equal((first.warnings as string[]).length, 3);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
