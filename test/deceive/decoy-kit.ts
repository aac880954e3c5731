// What the decoy lab test and the decoy benchmark share: the plant's policy with decoys in the control zone, a
// sensor namespace on the lab bridge that hosts them, learning the plant (baseline and identities), and `weir
// decoy run` on the sensor.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { HOSTS, SUBNET, type Plant } from '../lab/plant.js';
import { runAgent } from '../lab/scenario.js';
import { cli, sleep } from '../enforce/lab-kit.js';

export const MODBUS_POOL = [51, 52, 53].map((n) => `${SUBNET}.${n}`);
export const S7_POOL = [54, 55, 56].map((n) => `${SUBNET}.${n}`);

/** The lab plant; the control zone holds the PLCs and the decoy addresses, and blocks whoever touches a decoy. */
export const DECOY_POLICY = (rotateEvery = '1h'): string => `weir: policy/1
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
    members: [PLC-1, PLC-2, ${SUBNET}.48/28]
    mode: monitor
    playbooks:
      - name: decoy-touch
        mode: act
        on: [decoy_contact]
        when: { min_severity: critical }
        actions: [block_source, notify]
        block_ttl: 10m
        rate_limit: { max: 1000, per: 10m }
decoys:
  - name: modbus-decoys
    zone: control
    clone: [PLC-1]
    services: [modbus, http]
    addresses: [${MODBUS_POOL.join(', ')}]
    active: 1
    rotate: { every: ${rotateEvery} }
  - name: s7-decoys
    zone: control
    clone: [PLC-2]
    services: [s7comm, http]
    addresses: [${S7_POOL.join(', ')}]
    active: 1
    rotate: { every: ${rotateEvery} }
`;

/**
 * Learn the plant into the store, as the person `auth` proves (--db STORE --token-file FILE): the HMI's polling,
 * the historian, and the engineering workstation identifying the PLCs (Modbus device identification, S7 SZL
 * reads), so the inventory knows who they are. Returns the capture.
 */
export async function learnPlant(lab: Plant, dir: string, auth: string[]): Promise<string> {
  const db = auth[auth.indexOf('--db') + 1]!;
  const pcap = path.join(dir, 'normal.pcap');
  const stop = lab.capture(pcap);
  await sleep(300);
  await Promise.all([
    runAgent(lab, 'hmi', 'hmi', HOSTS.plc1, '6'),
    runAgent(lab, 'historian', 'historian', HOSTS.plc1, HOSTS.plc2, '6'),
    runAgent(lab, 'ews', 'ews', HOSTS.plc1, HOSTS.plc2),
  ]);
  await sleep(300);
  await stop();
  execFileSync(process.execPath, [cli, 'learn', pcap, ...auth], { stdio: 'pipe' });
  execFileSync(process.execPath, [cli, 'discover', pcap, '--db', db], { stdio: 'pipe' });
  return pcap;
}

/** A sensor box on the lab switch: a namespace with one port on the bridge, no address of its own. */
export function sensor(lab: Plant): string {
  const ns = `${lab.prefix}-sensor`;
  const run = (...a: string[]) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] });
  run('netns', 'add', ns);
  run('-n', ns, 'link', 'set', 'lo', 'up');
  run(
    '-n',
    lab.ns('fw'),
    'link',
    'add',
    `vs${lab.prefix.slice(-6)}`,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    ns,
  );
  run('-n', lab.ns('fw'), 'link', 'set', `vs${lab.prefix.slice(-6)}`, 'master', 'br0');
  run('-n', lab.ns('fw'), 'link', 'set', `vs${lab.prefix.slice(-6)}`, 'up');
  run('-n', ns, 'link', 'set', 'eth0', 'up');
  return ns;
}

export interface RunningDecoys {
  child: ChildProcess;
  /** Each placement or rotation as `weir decoy run` reported it: set → address. */
  placements: Array<Map<string, string>>;
  /** Contacts the responders reported (JSON lines). */
  contacts: Array<{ src: string; decoy: string; service: string }>;
  stderr: () => string;
  stop(): Promise<void>;
}

/** `weir decoy run` on the sensor; resolves once the first placement answers. */
export async function runDecoys(
  lab: Plant,
  sensorNs: string,
  auth: string[],
  stateDir: string,
  /** More options of `weir decoy run`. */
  extra: string[] = [],
): Promise<RunningDecoys> {
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      sensorNs,
      process.execPath,
      cli,
      'decoy',
      'run',
      ...auth,
      '--parent',
      'eth0',
      '--state-dir',
      stateDir,
      '--check-every',
      '1',
      '--netns-prefix',
      `${lab.prefix}-d`,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  let out = '';
  const r: RunningDecoys = {
    child,
    placements: [],
    contacts: [],
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('close', () => resolve());
        child.kill('SIGTERM');
      }),
  };
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const m of d.toString().matchAll(/decoys (?:placed|rotated): (.*)/g)) {
      const map = new Map<string, string>();
      for (const p of m[1]!.matchAll(/([0-9.]+) (\S+) \(/g)) map.set(p[2]!, p[1]!);
      r.placements.push(map);
    }
  });
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const l = out.slice(0, nl);
      out = out.slice(nl + 1);
      try {
        r.contacts.push(JSON.parse(l));
      } catch {
        /* not a contact */
      }
    }
  });
  // Each decoy probes its address first (RFC 5227: ~3 s), once more for each address a device answered for;
  // cover probes go out beside them (more namespaces to build: slow on a loaded host).
  for (let i = 0; i < 600 && r.placements.length === 0; i++) {
    if (child.exitCode !== null) throw new Error(`decoy run exited: ${err}`);
    await sleep(100);
  }
  if (r.placements.length === 0) {
    await r.stop();
    throw new Error(`decoys not placed: ${err}`);
  }
  return r;
}

/** nmap from the attacker's namespace; its normal output. */
export function nmap(lab: Plant, args: string[], timeoutMs = 120_000): string {
  return lab.exec('attacker', 'nmap', ['-n', '-Pn', ...args], { timeoutMs });
}
