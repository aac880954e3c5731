// Fail-open bound: how long after `kill -9` of the gateway a new client connection reaches the PLC directly,
// in the network-namespace lab with the real pymodbus PLC. Also measured: the same gap after a clean stop.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOSTS, Plant, canBuildLab } from '../test/lab/plant.js';
import { startPlcs } from '../test/lab/scenario.js';
import { readHealth } from '../src/enforce/state.js';
import { machine, median, root, today, writeSection } from './results.js';

const cli = path.join(root, 'dist/src/cli/main.js');
const agent = path.join(root, 'dist/test/lab/agents/run.js');
const GATEWAY_IP = '10.77.0.2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The policy is loaded into a store as its active policy, the way an approved change leaves it. */
export async function recordFailOpen(
  runs: number,
  applySource: (dir: string, text: string) => Promise<string[]>,
): Promise<void> {
  if (!canBuildLab())
    throw new Error('the fail-open benchmark needs root to build network namespaces');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-failopen-'));
  const stateDir = path.join(dir, 'state');
  const lab = Plant.up();
  const policy = `weir: policy/1
zones:
  - { name: sup, members: [${HOSTS.hmi}], mode: monitor }
  - { name: ctl, members: [${HOSTS.plc1}], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi, conduit: c, clients: [${HOSTS.hmi}], servers: [${HOSTS.plc1}], protocol: modbus, access: read-only }
`;
  writeFileSync(path.join(dir, 'p.yaml'), policy);
  const gaps: Record<string, number[]> = { kill: [], stop: [] };
  try {
    await startPlcs(lab);
    lab.exec('fw', 'ip', ['addr', 'add', `${GATEWAY_IP}/24`, 'dev', 'br0']);
    lab.exec('fw', process.execPath, [
      cli,
      'enforce',
      'apply',
      ...(await applySource(dir, policy)),
      '--gateway-ip',
      GATEWAY_IP,
      '--bridge',
      'br0',
      '--state-dir',
      stateDir,
    ]);
    for (let i = 0; i < runs; i++) {
      for (const how of ['kill', 'stop'] as const) {
        const gw = lab.spawn('fw', process.execPath, [
          cli,
          'gateway',
          '--listen',
          GATEWAY_IP,
          '--state-dir',
          stateDir,
          '--log',
          path.join(dir, 'gw.jsonl'),
        ]);
        gw.stdout!.resume();
        for (
          let k = 0;
          k < 100 && !(readHealth(stateDir)?.steering.ok && readHealth(stateDir)?.pid === gw.pid);
          k++
        )
          await sleep(50);
        await sleep(300 + Math.random() * 200); // a random phase against the 200 ms heartbeat
        const poll = lab.spawn('hmi', process.execPath, [
          agent,
          'connect-poll',
          HOSTS.plc1,
          '5',
          '3',
        ]);
        const lines: string[] = [];
        poll.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().trim().split('\n')));
        await sleep(800);
        const at = Date.now();
        process.kill(readHealth(stateDir)!.pid, how === 'kill' ? 'SIGKILL' : 'SIGTERM');
        await new Promise((r) => poll.once('close', r));
        const rs = lines
          .map((l) => l.split(' '))
          .map(([ms, r]) => ({ at: Number(ms), ok: r === 'ok' }));
        const lastFail = rs.filter((r) => !r.ok).at(-1);
        const back = rs.find(
          (r) => r.ok && r.at > at && (lastFail === undefined || r.at > lastFail.at),
        );
        if (back) gaps[how]!.push(back.at - at);
        await new Promise((r) =>
          gw.exitCode !== null || gw.signalCode !== null ? r(null) : gw.once('close', r),
        );
      }
    }
  } finally {
    await lab.down();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (how: string, xs: number[]): string =>
    `| ${how} | ${xs.length} | ${median(xs)} | ${Math.max(...xs)} | ${Math.min(...xs)} |`;
  writeSection(
    'gateway fail-open',
    [
      `## gateway fail-open (${today()})`,
      '',
      `Machine: ${machine()}.`,
      '',
      'Network-namespace lab, real pymodbus PLC behind the bridge, `weir gateway` in the path with a kernel lease of 800 ms renewed every 200 ms. A client opens a new connection and reads one register every 5 ms; the gateway is killed (`kill -9`) or stopped (SIGTERM) at a random phase of its heartbeat. Gap: from the signal to the first read answered by the PLC directly, after which every read is answered. Milliseconds.',
      '',
      '| how the gateway ended | runs | median | max | min |',
      '| --- | ---: | ---: | ---: | ---: |',
      row('kill -9 (lease runs out in the kernel)', gaps.kill!),
      row('SIGTERM (leases removed at once)', gaps.stop!),
      '',
      `Fail-open bound after a crash: **${Math.max(...gaps.kill!)} ms** worst of ${gaps.kill!.length} (target ≤1,000 ms).`,
    ].join('\n'),
  );
  console.log(
    `fail-open: kill median ${median(gaps.kill!)} ms max ${Math.max(...gaps.kill!)}; stop median ${median(gaps.stop!)} ms`,
  );
}
