import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { runAgent, startPlcs } from '../lab/scenario.js';
import { agent, cli, labPolicyStore, sleep } from './lab-kit.js';

/** The lab plant with pre-approved playbooks in its control zone (both zones only monitor: no allowlist drops). */
export const PLAYBOOK_POLICY = (rateMax = 10): string => `weir: policy/1
timezone: UTC
assets:
  - { name: HMI-1, ip: ${HOSTS.hmi} }
  - { name: EWS-1, ip: ${HOSTS.ews} }
  - { name: HIST-1, ip: ${HOSTS.historian} }
  - { name: PLC-1, ip: ${HOSTS.plc1} }
  - { name: PLC-2, ip: ${HOSTS.plc2} }
zones:
  - { name: supervisory, members: [HMI-1, EWS-1, HIST-1], mode: monitor }
  - name: control
    members: [PLC-1, PLC-2]
    mode: monitor
    playbooks:
      - name: contain-scans
        mode: act
        on: [port_scan, host_scan]
        when: { min_severity: low, source_not_in: [supervisory] }
        actions: [block_source, notify]
        block_ttl: 10m
        rate_limit: { max: ${rateMax}, per: 10m }
      - name: unknown-writers
        mode: act
        on: [new_edge, write_new_range, function_outside_profile]
        when: { source_unknown: true }
        actions: [block_source, notify]
        block_ttl: 10m
        rate_limit: { max: ${rateMax}, per: 10m }
`;

/** Learn the plant's normal (the HMI polling PLC 1) into `db`: a capture on the bridge, then `weir learn`. */
export async function learnNormal(lab: Plant, dir: string, db: string, seconds = 6): Promise<void> {
  const pcap = path.join(dir, 'normal.pcap');
  const stop = lab.capture(pcap);
  await sleep(300);
  await Promise.all([
    runAgent(lab, 'hmi', 'hmi', HOSTS.plc1, String(seconds)),
    runAgent(lab, 'historian', 'historian', HOSTS.plc1, HOSTS.plc2, String(seconds)),
  ]);
  await sleep(300);
  await stop();
  execFileSync(process.execPath, [cli, 'learn', pcap, '--db', db], { stdio: 'pipe' });
}

/** `weir detect --interface br0 --playbooks` on the enforcement host; resolves once the playbooks run. */
export async function startRunner(
  lab: Plant,
  auth: string[],
  stateDir: string,
  lines: string[],
): Promise<() => Promise<number | null>> {
  const db = auth[auth.indexOf('--db') + 1]!;
  const c = lab.spawn('fw', process.execPath, [
    cli,
    'detect',
    '--interface',
    'br0',
    '--baseline',
    db,
    '--playbooks',
    '--state-dir',
    stateDir,
    '--token-file',
    auth[auth.indexOf('--token-file') + 1]!,
    '--jsonl',
  ]);
  let err = '';
  c.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    lines.push(...d.toString().split('\n').filter(Boolean));
  });
  c.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  for (let i = 0; i < 100 && !/playbooks of policy/.test(err); i++) {
    if (c.exitCode !== null) throw new Error(`detect --playbooks exited: ${err}`);
    await sleep(100);
  }
  assert.match(err, /acting control\/contain-scans, control\/unknown-writers/);
  await sleep(700); // tcpdump attaches
  return () =>
    new Promise((resolve) => {
      if (c.exitCode !== null) return resolve(c.exitCode);
      c.once('close', (code) => resolve(code));
      c.kill('SIGINT');
    });
}

/** Whether `host` gets an answer to one Modbus read from `ip` within `ms`. */
export function reaches(lab: Plant, host: Parameters<Plant['exec']>[0], ip: string, ms = 1500): boolean {
  const js = `const s=require('net').connect({host:'${ip}',port:502});s.setTimeout(${ms},()=>{console.log('no');process.exit(0)});s.on('connect',()=>s.write(Buffer.from('000100000006010300000001','hex')));s.on('data',()=>{console.log('yes');process.exit(0)});s.on('error',()=>{console.log('no');process.exit(0)});`;
  return lab.exec(host, process.execPath, ['-e', js], { timeoutMs: ms + 5000 }).trim() === 'yes';
}

export function blockedNow(lab: Plant): string[] {
  const out = lab.exec('fw', 'nft', ['-j', 'list', 'set', 'bridge', 'weir', 'blocklist']);
  const set = (JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> }).nftables.find(
    (o) => o.set,
  )!.set!;
  return (set.elem ?? []).map((e) =>
    String((e as { elem?: { val: string } }).elem?.val ?? (e as string)),
  );
}

test(
  'playbook lab: a scanning intruder is blocked by the kernel at once and its packets dropped, the HMI keeps polling; undo lets it back; an unknown host writing to the PLC is blocked too',
  { timeout: 240_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the playbook lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-pblab-'));
    const auth = await labPolicyStore(dir, PLAYBOOK_POLICY());
    const db = auth[auth.indexOf('--db') + 1]!;
    const stateDir = path.join(dir, 'state');
    const lab = Plant.up();
    const weirIn = (...args: string[]): string =>
      lab.exec('fw', process.execPath, [cli, ...args]);
    // One Modbus read from the attacker's host, given 1.5 s (a dropped SYN never answers).
    const probe = (): boolean => reaches(lab, 'attacker', HOSTS.plc1);
    let stopRunner: (() => Promise<number | null>) | null = null;
    try {
      await startPlcs(lab);
      await learnNormal(lab, dir, db);
      weirIn('enforce', 'apply', ...auth, '--family', 'bridge', '--state-dir', stateDir);
      assert.deepEqual(blockedNow(lab), []);
      assert.equal(probe(), true, 'before: the attacker reaches the PLC');

      const lines: string[] = [];
      stopRunner = await startRunner(lab, auth, stateDir, lines);
      // The HMI goes on polling, as learned, all through the attack.
      const poller = lab.spawn('hmi', process.execPath, [agent, 'poll', HOSTS.plc1, '50', '14']);
      const answers: number[] = [];
      poller.stdout!.on('data', (d: Buffer) =>
        answers.push(...d.toString().trim().split('\n').filter(Boolean).map(Number)),
      );
      await sleep(1000);

      lab.exec(
        'attacker',
        'nmap',
        ['-n', '-Pn', '-sS', '-p', '1-200,502', '--max-retries', '0', '-T4', HOSTS.plc1],
        { timeoutMs: 60_000 },
      );
      let blocked: string[] = [];
      for (let i = 0; i < 50 && !blocked.includes(HOSTS.attacker); i++) {
        blocked = blockedNow(lab);
        await sleep(100);
      }
      assert.deepEqual(blocked, [HOSTS.attacker], lines.join('\n'));
      const blockedAt = Date.now();
      assert.equal(probe(), false, "the attacker's later packets are dropped");
      const st = JSON.parse(weirIn('enforce', 'status', '--json', '--state-dir', stateDir)) as {
        counters: Array<{ rule: string; packets: number }>;
      };
      assert.ok(st.counters.find((c) => c.rule === 'blocked source')!.packets > 0);

      const actions = JSON.parse(weirIn('playbook', 'actions', '--db', db, '--json')) as Array<{
        id: string;
        kind: string;
        status: string;
        target: string;
        detectionType: string;
        detectionId: string;
      }>;
      const block = actions.find((a) => a.kind === 'block_source' && a.status === 'done')!;
      assert.equal(block.target, HOSTS.attacker);
      assert.equal(block.detectionType, 'port_scan');
      assert.ok(
        lines.some((l) => l.includes(block.detectionId)),
        'the detection that caused it was reported',
      );
      assert.match(weirIn('playbook', 'actions', '--db', db), new RegExp(block.id));

      // The HMI's learned polling went on: answers after the block, no gap.
      await sleep(1500);
      const after = answers.filter((a) => a > blockedAt);
      assert.ok(after.length >= 10, `HMI answers after the block: ${after.length}`);
      assert.ok(!blockedNow(lab).includes(HOSTS.hmi));

      // One command undoes it (a person allowed to enforce); the attacker reaches the PLC again.
      assert.match(weirIn('playbook', 'undo', block.id, ...auth, '--state-dir', stateDir), /unblocked/);
      assert.deepEqual(blockedNow(lab), []);
      assert.equal(probe(), true, 'after undo the attacker passes again');

      // A new host (a different address) writing to the PLC: new edge from an unknown source → blocked.
      lab.exec('attacker', 'ip', ['addr', 'flush', 'dev', 'eth0']);
      lab.exec('attacker', 'ip', ['addr', 'add', `${HOSTS.attacker.replace(/\.66$/, '.67')}/24`, 'dev', 'eth0']);
      await runAgent(lab, 'attacker', 'attacker-write', HOSTS.plc1);
      const intruder = HOSTS.attacker.replace(/\.66$/, '.67');
      for (let i = 0; i < 50 && !blocked.includes(intruder); i++) {
        blocked = blockedNow(lab);
        await sleep(100);
      }
      assert.deepEqual(blocked, [intruder], lines.join('\n'));
      assert.equal(probe(), false, 'its next connection is dropped');
      await new Promise((r) => poller.once('close', r));

      assert.equal(await stopRunner(), 0);
      stopRunner = null;
      const audit = weirIn('policy', 'audit', '--db', db);
      for (const a of ['playbooks.started', 'playbook.block_source', 'playbook.undone', 'playbooks.stopped'])
        assert.match(audit, new RegExp(a.replace('.', '\\.')), audit);
    } finally {
      await stopRunner?.();
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
