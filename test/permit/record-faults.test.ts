// A permit is the emergency path: a fault of Weir's own disk must neither refuse one nor lose the others (review
// 13, L7). A records file that cannot be parsed is set aside whole, never overwritten with the new record alone
// (the playbooks' permit view then missed every other live permit and could block its holder on a forged scan);
// a state folder that is full or read-only still lets a plain permit into the kernel, said in the output, the
// audit and `enforce status`; and the permit view learns of a permit with no record from the kernel's listing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  addPlain,
  addScope,
  PermitRecords,
  readScopes,
  recordsSetAside,
  type ScopedPermitRecord,
} from '../../src/enforce/permit-scopes.js';
import { PermitView } from '../../src/respond/permit-view.js';
import type { TemporaryPermit } from '../../src/respond/playbook-kernel.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { compileRuleset } from '../../src/enforce/nft-ruleset.js';
import { applyRuleset, listPermitSet } from '../../src/enforce/nft.js';
import { NftBackend } from '../../src/enforce/nft-backend.js';
import { openStore } from '../../src/store/db.js';
import { listAudit } from '../../src/store/audit-store.js';
import { canBuildLab } from '../lab/plant.js';
import { cli } from '../enforce/lab-kit.js';
import { approvedStore } from '../helpers/approved-store.js';

const flow = (client: string) => ({
  client,
  server: '10.77.0.21',
  transport: 'tcp' as const,
  port: 502,
});

const scoped = (client: string, until: number): ScopedPermitRecord => ({
  flow: flow(client),
  until,
  grantedAt: until - 60,
  user: 'alice',
  directory: 'ldap',
  template: 'plc-maint',
  group: {
    name: 'permit:plc-maint',
    clients: [client],
    servers: ['10.77.0.21'],
    transport: 'tcp',
    ports: [502],
    protocol: 'modbus',
    functions: [3],
    access: 'read-only',
  },
});

for (const [file, add] of [
  [
    'permits-plain.json',
    (dir: string, now: number) =>
      addPlain(dir, { flow: flow('10.77.0.9'), until: now + 600, grantedAt: now }, now),
  ],
  [
    'permits.json',
    (dir: string, now: number) => addScope(dir, scoped('10.77.0.9', now + 600), now),
  ],
] as const)
  test(`a ${file} that cannot be parsed is set aside whole, not overwritten by the next grant`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-records-'));
    try {
      const now = Math.floor(Date.now() / 1000);
      // Half a file (a crash mid-copy, a full disk in an older build, a hand edit): the other permits are in it.
      const torn = `[{"flow":{"client":"10.77.0.5","server":"10.77.0.21","transport":"tcp","port":502},"until":${now + 900}`;
      writeFileSync(path.join(dir, file), torn);
      assert.throws(() => new PermitRecords(dir).live(now), 'the reader says it cannot tell');
      const r = add(dir, now);
      const aside = readdirSync(dir).filter((f) => f.startsWith(`${file}.unreadable-`));
      assert.equal(aside.length, 1, `kept aside: ${readdirSync(dir).join(', ')}`);
      assert.equal(readFileSync(path.join(dir, aside[0]!), 'utf8'), torn, 'byte for byte');
      assert.equal(r.setAside, path.join(dir, aside[0]!), 'the writer says where it went');
      // The new grant is recorded in a fresh file the readers can parse.
      assert.deepEqual(
        new PermitRecords(dir).live(now).map((p) => p.flow.client),
        ['10.77.0.9'],
      );
      if (file === 'permits.json') assert.equal(readScopes(dir).length, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('the permit view lists the kernel again before a block once its listing is 10 s old: a permit without a record is seen', async () => {
  let t = 0,
    reads = 0;
  const kernel: TemporaryPermit[] = [];
  const UNRECORDED: TemporaryPermit = { ...flow('10.77.0.77'), expiresIn: 3600 };
  const view = new PermitView(
    () => [],
    async () => {
      reads++;
      return [...kernel];
    },
    () => t,
  );
  view.start();
  await view.seeded();
  assert.deepEqual(view.current(), []);
  // Granted while the state folder was full: in the kernel, in no record.
  kernel.push(UNRECORDED);
  t = 5_000;
  assert.equal(view.seeded(), null, 'a fresh listing is used as it is');
  t = 10_001;
  const p = view.seeded();
  assert.ok(p !== null, 'an old listing is renewed before the answer');
  await p;
  assert.deepEqual(
    view.current().map((x) => x.client),
    ['10.77.0.77'],
  );
  assert.equal(reads, 2);
  assert.equal(view.seeded(), null);
});

const POLICY = `weir: policy/1
timezone: UTC
assets: [{ name: PLC-1, ip: 10.77.0.21 }]
zones:
  - { name: a, members: [10.77.0.0/28], mode: monitor }
  - { name: b, members: [PLC-1], mode: enforce, simulation_window: 1m }
conduits: [{ name: ab, from: a, to: b }]
groups:
  - { name: g, conduit: ab, clients: [10.77.0.10], servers: [10.77.0.21], ports: [502], access: read-write }
`;

for (const fault of ['full', 'read-only'] as const)
  test(`a ${fault} state folder still lets \`weir permit\` into the kernel, said in output, audit and status`, async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root and iproute2');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-records-'));
    const ns = `weir-rec-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const r = parsePolicy(POLICY, 'p.yaml');
      assert.ok(r.ok);
      applyRuleset(
        { family: 'inet', netns: ns },
        compileRuleset(new CompiledPolicy(r.policy), { family: 'inet' }),
      );
      const { db, auth } = await approvedStore(dir, POLICY);
      const state = path.join(dir, 'state');
      mkdirSync(state);
      // The state folder, in a mount namespace of its own: a 16 KiB tmpfs filled to the last byte, or mounted
      // read-only. The store (the audit) is elsewhere and writable.
      const mount =
        fault === 'full'
          ? `mount -t tmpfs -o size=16k tmpfs "$S" && (head -c 1000000 /dev/zero > "$S/fill" 2>/dev/null; true)`
          : `mount -t tmpfs -o ro tmpfs "$S"`;
      const run = spawnSync(
        'unshare',
        [
          '-m',
          'sh',
          '-c',
          `${mount} && exec "$NODE" "$CLI" permit 10.77.0.5 10.77.0.21 tcp/502 --ttl 10m --family inet --netns ${ns} --state-dir "$S" ${auth.join(' ')}`,
        ],
        {
          encoding: 'utf8',
          env: {
            ...process.env,
            S: state,
            NODE: process.execPath,
            CLI: cli,
          },
          timeout: 60_000,
        },
      );
      assert.equal(run.status, 0, `granted: ${run.stderr}`);
      assert.match(run.stdout, /10\.77\.0\.5 → 10\.77\.0\.21 tcp\/502 permitted for 600 s/);
      assert.match(run.stderr, /NOT RECORDED/);
      const b = new NftBackend({ family: 'inet', netns: ns }, state);
      assert.deepEqual(
        (await b.permits()).map((p) => p.client),
        ['10.77.0.5'],
        'the kernel holds it',
      );
      const store = openStore(db);
      try {
        const a = listAudit(store).find((e) => e.action === 'flow.permit_unrecorded');
        assert.ok(a, 'audited');
        assert.match(String(a.details.error), /ENOSPC|EROFS|read-only|no space/i);
      } finally {
        store.close();
      }
      // Outside that mount namespace the folder holds no record of it: status names the permit.
      const s = b.status() as { unrecordedPermits?: string[] };
      assert.deepEqual(s.unrecordedPermits, ['10.77.0.5 → 10.77.0.21 tcp/502']);
      const text = execFileSync(
        process.execPath,
        [cli, 'enforce', 'status', '--family', 'inet', '--netns', ns, '--state-dir', state],
        { encoding: 'utf8' },
      );
      assert.match(
        text,
        /permit 10\.77\.0\.5 → 10\.77\.0\.21 tcp\/502: in the kernel, NOT in Weir's records/,
      );
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

// Review 14b, F6: a revocation that cannot mark the records still drops the kernel element; its undo must never
// put a scoped permit back as a plain one (the steer chain passes a plain permit straight to the PLC).
for (const fault of ['unparsable', 'unwritable'] as const)
  test(`a scoped permit revoked while permits.json is ${fault} is restored with its scope or not at all, never plain`, async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('needs root and iproute2');
      return t.skip('needs root');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-records-'));
    const ns = `weir-rsc-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const target = { family: 'inet' as const, netns: ns };
    try {
      const r = parsePolicy(POLICY, 'p.yaml');
      assert.ok(r.ok);
      applyRuleset(target, compileRuleset(new CompiledPolicy(r.policy), { family: 'inet' }));
      const b = new NftBackend(target, dir);
      const now = Math.floor(Date.now() / 1000);
      const { group, user, directory, template } = scoped('10.77.0.5', now + 600);
      await b.permit(flow('10.77.0.5'), 600, 'alice: plc-maint', {
        group,
        user,
        directory,
        template,
      });
      const file = path.join(dir, 'permits.json');
      const tmp = path.join(dir, `permits.json.${process.pid}.tmp`);
      const torn = '[{"flow":{"client":"10.77.0.5"';
      if (fault === 'unparsable') writeFileSync(file, torn);
      else mkdirSync(tmp); // the write of the marked records fails (EISDIR), as on a full or read-only folder
      const revoked = await b.revokePermit(flow('10.77.0.5'), 'playbook');
      assert.equal((await b.permits()).length, 0, 'the kernel element is gone all the same');
      assert.equal(revoked.set, 'permits_scoped', 'the kernel said which set held it');
      if (fault === 'unparsable') {
        assert.equal(readFileSync(file, 'utf8'), torn, 'not set aside on the revoke path');
        assert.deepEqual(recordsSetAside(dir), []);
      } else rmSync(tmp, { recursive: true });
      const undo = b.restorePermit(flow('10.77.0.5'), 300, 'undo', revoked);
      if (fault === 'unparsable') await assert.rejects(undo, /scope/);
      else await undo;
      assert.deepEqual(await listPermitSet(target, 'permits'), [], 'never restored plain');
      assert.equal(
        (await listPermitSet(target, 'permits_scoped')).length,
        fault === 'unparsable' ? 0 : 1,
        'restored with its scope where it was read',
      );
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
