import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { DECOY_POLICY, MODBUS_POOL } from '../deceive/decoy-kit.js';
import { runAgent, startPlcs } from '../lab/scenario.js';
import { agent, cli, labPolicyStore, sleep } from './lab-kit.js';
import { blockedNow, learnNormal, PLAYBOOK_POLICY, reaches, startRunner } from './playbook-kit.js';
import { captureListening } from '../helpers/capture-ready.js';

test(
  'playbook lab: a scanning intruder is blocked by the kernel at once and its packets dropped, the HMI keeps polling; undo lets it back; an unknown host writing to the PLC is blocked too, by detect and by serve',
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
    const weirIn = (...args: string[]): string => lab.exec('fw', process.execPath, [cli, ...args]);
    // One Modbus read from the attacker's host, given 1.5 s (a dropped SYN never answers).
    const probe = (): boolean => reaches(lab, 'attacker', HOSTS.plc1);
    let stopRunner: (() => Promise<number | null>) | null = null;
    try {
      await startPlcs(lab);
      await learnNormal(lab, dir, auth);
      weirIn('enforce', 'apply', ...auth, '--family', 'bridge', '--state-dir', stateDir);
      assert.deepEqual(blockedNow(lab), []);
      assert.equal(probe(), true, 'before: the attacker reaches the PLC');

      const lines: string[] = [];
      stopRunner = await startRunner(lab, auth, stateDir, lines);
      // The HMI goes on polling, as learned, all through the attack.
      // It polls until stopped below: a fixed run (14 s once) ended before the block on a loaded machine.
      const poller = lab.spawn('hmi', process.execPath, [agent, 'poll', HOSTS.plc1, '50', '300']);
      const pollerClosed = new Promise((r) => poller.once('close', r));
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
      for (let i = 0; i < 300 && !blocked.includes(HOSTS.attacker); i++) {
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
      const after = (): number[] => answers.filter((a) => a > blockedAt);
      for (let i = 0; i < 150 && after().length < 10; i++) await sleep(100);
      assert.ok(after().length >= 10, `HMI answers after the block: ${after().length}`);
      assert.ok(!blockedNow(lab).includes(HOSTS.hmi));

      // One command undoes it (a person allowed to enforce); the attacker reaches the PLC again.
      assert.match(
        weirIn('playbook', 'undo', block.id, ...auth, '--state-dir', stateDir),
        /unblocked/,
      );
      assert.deepEqual(blockedNow(lab), []);
      assert.equal(probe(), true, 'after undo the attacker passes again');

      // A new host (a different address) writing to the PLC: new edge from an unknown source → blocked.
      lab.exec('attacker', 'ip', ['addr', 'flush', 'dev', 'eth0']);
      lab.exec('attacker', 'ip', [
        'addr',
        'add',
        `${HOSTS.attacker.replace(/\.66$/, '.67')}/24`,
        'dev',
        'eth0',
      ]);
      await runAgent(lab, 'attacker', 'attacker-write', HOSTS.plc1);
      const intruder = HOSTS.attacker.replace(/\.66$/, '.67');
      for (let i = 0; i < 300 && !blocked.includes(intruder); i++) {
        blocked = blockedNow(lab);
        await sleep(100);
      }
      assert.deepEqual(blocked, [intruder], lines.join('\n'));
      assert.equal(probe(), false, 'its next connection is dropped');
      poller.kill();
      await pollerClosed;

      assert.equal(await stopRunner(), 0);
      stopRunner = null;

      // The same from the dashboard's server following the interface: a third intruder address is blocked.
      const serveOut: string[] = [];
      const serve = lab.spawn('fw', process.execPath, [
        cli,
        'serve',
        '--port',
        '0',
        '--interface',
        'br0',
        '--playbooks',
        '--state-dir',
        stateDir,
        ...auth,
      ]);
      serve.stdout!.on('data', (d: Buffer) => serveOut.push(d.toString()));
      serve.stderr!.on('data', (d: Buffer) => serveOut.push(d.toString()));
      stopRunner = () =>
        new Promise((resolve) => {
          if (serve.exitCode !== null) return resolve(serve.exitCode);
          serve.once('close', (code) => resolve(code));
          serve.kill('SIGTERM');
        });
      for (let i = 0; i < 100 && !/playbooks of policy/.test(serveOut.join('')); i++)
        await sleep(100);
      assert.match(serveOut.join(''), /acting control\/contain-scans/, serveOut.join(''));
      await captureListening(lab.ns('fw'));
      const third = HOSTS.attacker.replace(/\.66$/, '.68');
      lab.exec('attacker', 'ip', ['addr', 'flush', 'dev', 'eth0']);
      lab.exec('attacker', 'ip', ['addr', 'add', `${third}/24`, 'dev', 'eth0']);
      await runAgent(lab, 'attacker', 'attacker-write', HOSTS.plc1);
      for (let i = 0; i < 300 && !blocked.includes(third); i++) {
        blocked = blockedNow(lab);
        await sleep(100);
      }
      assert.ok(blocked.includes(third), serveOut.join(''));
      await stopRunner();
      stopRunner = null;
      const audit = weirIn('policy', 'audit', '--db', db);
      for (const a of [
        'playbooks.started',
        'playbook.block_source',
        'playbook.undone',
        'playbooks.stopped',
      ])
        assert.match(audit, new RegExp(a.replace('.', '\\.')), audit);
    } finally {
      await stopRunner?.();
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/** One UDP datagram from `from` (any source address: a raw frame) to `to`:`port`, sent by `host` to every port. */
function sendUdpAs(lab: Plant, host: 'attacker', from: string, to: string, port: number): void {
  const py = `import socket,struct,sys
src,dst,port=sys.argv[1],sys.argv[2],int(sys.argv[3])
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW);s.bind(('eth0',0))
udp=struct.pack('!HHHH',47808,port,12,0)+b'weir'
h=struct.pack('!BBHHHBBH4s4s',0x45,0,20+len(udp),7,0,64,17,0,socket.inet_aton(src),socket.inet_aton(dst))
w=struct.unpack('!10H',h);t=sum(w);t=(t>>16)+(t&0xffff);t+=t>>16
h=h[:10]+struct.pack('!H',~t&0xffff)+h[12:]
s.send(b'\\xff'*6+s.getsockname()[4]+b'\\x08\\x00'+h+udp)`;
  lab.exec(host, '/usr/bin/python3', ['-c', py, from, to, String(port)]);
}

test(
  'playbook lab: a UDP datagram to a decoy in the name of the HMI (a device of the baseline the playbook may block) is reported as spoofable and blocks nothing; the HMI keeps polling; the same from an unknown address is blocked (rev12 R5)',
  { timeout: 240_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the playbook lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-pblab-spoof-'));
    // The decoy playbook, whose approvers named the HMI as blockable (a compromised HMI is to be cut off).
    const policy = DECOY_POLICY().replace(
      '        block_ttl: 10m\n',
      `        may_block: [${HOSTS.hmi}]\n        block_ttl: 10m\n`,
    );
    assert.match(policy, /may_block/);
    const auth = await labPolicyStore(dir, policy);
    const db = auth[auth.indexOf('--db') + 1]!;
    const stateDir = path.join(dir, 'state');
    const lab = Plant.up();
    const weirIn = (...args: string[]): string => lab.exec('fw', process.execPath, [cli, ...args]);
    let stopRunner: (() => Promise<number | null>) | null = null;
    try {
      await startPlcs(lab);
      await learnNormal(lab, dir, auth);
      weirIn('enforce', 'apply', ...auth, '--family', 'bridge', '--state-dir', stateDir);
      const lines: string[] = [];
      stopRunner = await startRunner(
        lab,
        auth,
        stateDir,
        lines,
        undefined,
        /acting control\/decoy-touch/,
      );
      const poller = lab.spawn('hmi', process.execPath, [agent, 'poll', HOSTS.plc1, '50', '300']);
      const pollerClosed = new Promise((r) => poller.once('close', r));
      const answers: number[] = [];
      poller.stdout!.on('data', (d: Buffer) =>
        answers.push(...d.toString().trim().split('\n').filter(Boolean).map(Number)),
      );
      await sleep(1000);

      const decoy = MODBUS_POOL[0]!;
      const refusedHmi = new RegExp(`block ${HOSTS.hmi.replace(/\./g, '\\.')}.*refused.*spoofed`);
      for (let i = 0; i < 100 && !lines.some((l) => refusedHmi.test(l)); i++) {
        if (i % 10 === 0) sendUdpAs(lab, 'attacker', HOSTS.hmi, decoy, 502);
        await sleep(100);
      }
      assert.ok(
        lines.some((l) => refusedHmi.test(l)),
        `the playbook refused to block the HMI on a spoofable contact:\n${lines.join('\n')}`,
      );
      const after = Date.now();
      await sleep(1500);
      assert.ok(!blockedNow(lab).includes(HOSTS.hmi), 'the HMI is not blocked');
      assert.ok(answers.filter((a) => a > after).length >= 5, 'the HMI kept polling');

      // The same datagram from an address the plant does not know: a contact, blocked as before.
      const stranger = `${HOSTS.attacker.replace(/\.66$/, '.69')}`;
      let blocked: string[] = [];
      for (let i = 0; i < 100 && !blocked.includes(stranger); i++) {
        if (i % 10 === 0) sendUdpAs(lab, 'attacker', stranger, decoy, 502);
        await sleep(100);
        blocked = blockedNow(lab);
      }
      assert.deepEqual(blocked, [stranger], lines.join('\n'));
      poller.kill();
      await pollerClosed;
      assert.equal(await stopRunner(), 0);
      stopRunner = null;
      // The detection itself is reported (its JSON line when it is written out), marked spoofable.
      assert.ok(
        lines.some(
          (l) =>
            l.includes('decoy_contact') &&
            l.includes(`"src":"${HOSTS.hmi}"`) &&
            l.includes('"spoofable":true'),
        ),
        lines.join('\n'),
      );
      const audit = weirIn('policy', 'audit', '--db', db);
      assert.match(audit, /playbook\.block_source\.refused/, audit);
    } finally {
      await stopRunner?.();
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
