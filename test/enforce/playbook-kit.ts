// What the playbook lab test and the detection → block benchmark share: the plant's policy with playbooks,
// learning its normal, the live runner on the enforcement host, and looks at the kernel's blocklist.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { HOSTS, type Plant } from '../lab/plant.js';
import { runAgent } from '../lab/scenario.js';
import { cli, sleep } from './lab-kit.js';
import { captureListening } from '../helpers/capture-ready.js';

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

/**
 * Learn the plant's normal (the HMI polling PLC 1) into the store: a capture on the bridge, then `weir learn` as
 * the person `auth` proves (--db STORE --token-file FILE).
 */
export async function learnNormal(
  lab: Plant,
  dir: string,
  auth: string[],
  seconds = 6,
): Promise<void> {
  const pcap = path.join(dir, 'normal.pcap');
  const stop = lab.capture(pcap);
  await sleep(300);
  await Promise.all([
    runAgent(lab, 'hmi', 'hmi', HOSTS.plc1, String(seconds)),
    runAgent(lab, 'historian', 'historian', HOSTS.plc1, HOSTS.plc2, String(seconds)),
  ]);
  await sleep(300);
  await stop();
  execFileSync(process.execPath, [cli, 'learn', pcap, ...auth], { stdio: 'pipe' });
}

/** `weir detect --interface br0 --playbooks` on the enforcement host; resolves once the playbooks run. */
export async function startRunner(
  lab: Plant,
  auth: string[],
  stateDir: string,
  lines: string[],
  onStdout?: (line: string) => void,
  acting: RegExp = /acting control\/contain-scans, control\/unknown-writers/,
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
  let out = '';
  c.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      lines.push(line);
      onStdout?.(line);
    }
  });
  for (let i = 0; i < 100 && !/playbooks of policy/.test(err); i++) {
    if (c.exitCode !== null) throw new Error(`detect --playbooks exited: ${err}`);
    await sleep(100);
  }
  assert.match(err, acting);
  await captureListening(lab.ns('fw'));
  return () =>
    new Promise((resolve) => {
      if (c.exitCode !== null) return resolve(c.exitCode);
      c.once('close', (code) => resolve(code));
      c.kill('SIGINT');
    });
}

/** Whether `host` gets an answer to one Modbus read from `ip` within `ms`. */
export function reaches(
  lab: Plant,
  host: Parameters<Plant['exec']>[0],
  ip: string,
  ms = 1500,
): boolean {
  const js = `const s=require('net').connect({host:'${ip}',port:502});s.setTimeout(${ms},()=>{console.log('no');process.exit(0)});s.on('connect',()=>s.write(Buffer.from('000100000006010300000001','hex')));s.on('data',()=>{console.log('yes');process.exit(0)});s.on('error',()=>{console.log('no');process.exit(0)});`;
  return lab.exec(host, process.execPath, ['-e', js], { timeoutMs: ms + 5000 }).trim() === 'yes';
}

export function blockedNow(lab: Plant): string[] {
  const out = lab.exec('fw', 'nft', ['-j', 'list', 'set', 'bridge', 'weir', 'blocklist']);
  const set = (
    JSON.parse(out) as { nftables: Array<{ set?: { elem?: unknown[] } }> }
  ).nftables.find((o) => o.set)!.set!;
  return (set.elem ?? []).map((e) =>
    String((e as { elem?: { val: string } }).elem?.val ?? (e as string)),
  );
}
