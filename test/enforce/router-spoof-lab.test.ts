// Router mode (inet family): one packet in a PLC's name, sent from the wrong side of the router, must not make
// the group's server's next packet a conntrack "reply" that reaches any port of the PLC (review 12b, B0: UDP, and
// TCP by simultaneous open). Strict reverse-path filtering refuses it; the allowed flows keep working, and a zone
// that simulates drops nothing. Real peers in namespaces this test creates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { cli, labPolicyStore, sleep } from './lab-kit.js';

const FRAMES = path.join(repoRoot, 'test/enforce/frames.py');
const P = `wrsp${process.pid.toString(36).slice(-5)}`;
const NS = { hist: `${P}-hist`, plc: `${P}-plc`, att: `${P}-att`, fw: `${P}-fw` };
type Side = keyof typeof NS;
const HIST = '10.81.1.40',
  PLC = '10.81.2.21',
  ATT = '10.81.3.66';
const ADDR: Record<Exclude<Side, 'fw'>, string> = { hist: HIST, plc: PLC, att: ATT };
const POLICY = `weir: policy/1
timezone: UTC
assets:
  - { name: HIST-1, ip: ${HIST} }
  - { name: PLC-1, ip: ${PLC} }
zones:
  - { name: supervisory, members: [HIST-1], mode: monitor }
  - { name: control, members: [PLC-1], mode: enforce, simulation_window: 1m }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
  - { name: ctl-sup, from: control, to: supervisory }
groups:
  - { name: hist-plc1, conduit: sup-ctl, clients: [HIST-1], servers: [PLC-1], ports: [502], access: read-write }
  - { name: plc-ntp, conduit: ctl-sup, clients: [PLC-1], servers: [HIST-1], ports: [123], transport: udp, access: read-only }
  - { name: plc-push, conduit: ctl-sup, clients: [PLC-1], servers: [HIST-1], ports: [5450], access: read-write }
`;

test(
  "router mode: a packet spoofed in the PLC's name does not open the PLC to its group's server (UDP, TCP simultaneous open); allowed flows work, simulate drops nothing",
  { timeout: 240_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the enforcement lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-rspoof-'));
    const procs: ChildProcess[] = [];
    const ip = (...a: string[]): string =>
      execFileSync('ip', a, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    const inNs = (s: Side, cmd: string, args: string[]): string =>
      execFileSync('ip', ['netns', 'exec', NS[s], cmd, ...args], {
        timeout: 60_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      }).toString();
    const frames = (s: Side, ...args: string[]): string =>
      inNs(s, 'python3', [FRAMES, ...args]).trim();
    const macOf = (dev: string): string =>
      (JSON.parse(inNs('fw', 'ip', ['-j', 'link', 'show', dev])) as Array<{ address: string }>)[0]!
        .address;
    /** A server on `to` answers what `from` asks from `sport`, after `first` ran: the answer, or NONE. */
    const talks = async (
      from: Exclude<Side, 'fw'>,
      to: Exclude<Side, 'fw'>,
      proto: 'tcp' | 'udp',
      port: number,
      sport = 0,
      first: () => void = () => {},
    ): Promise<string> => {
      const p = spawn('ip', [
        'netns',
        'exec',
        NS[to],
        'python3',
        FRAMES,
        'serve',
        proto,
        String(port),
        '15',
      ]);
      procs.push(p);
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 100 && !out.includes('READY'); i++) await sleep(50);
      first();
      const answer = frames(from, 'ask', proto, ADDR[to], String(port), String(sport));
      p.kill('SIGTERM');
      return answer;
    };
    // The attacker, on a third subnet, sends in PLC-1's name to HIST-1 through the router (its MAC on c0).
    const spoof = (proto: 'tcp' | 'udp', sport: number, dport: number): void => {
      const mac = macOf('c0');
      if (proto === 'udp')
        frames('att', 'send', 'eth0', mac, PLC, HIST, String(sport), String(dport), 'none', 'x');
      else frames('att', 'syn', 'eth0', mac, PLC, HIST, String(sport), String(dport));
    };
    const holes: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok) holes.push(what);
    };
    try {
      for (const n of Object.values(NS)) {
        ip('netns', 'add', n);
        ip('-n', n, 'link', 'set', 'lo', 'up');
      }
      const legs: Array<[Exclude<Side, 'fw'>, string, string]> = [
        ['hist', 'a0', '10.81.1'],
        ['plc', 'b0', '10.81.2'],
        ['att', 'c0', '10.81.3'],
      ];
      for (const [s, dev, net] of legs) {
        ip('-n', NS.fw, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS[s]);
        ip('-n', NS.fw, 'addr', 'add', `${net}.1/24`, 'dev', dev);
        ip('-n', NS[s], 'addr', 'add', `${ADDR[s]}/24`, 'dev', 'eth0');
        ip('-n', NS.fw, 'link', 'set', dev, 'up');
        ip('-n', NS[s], 'link', 'set', 'eth0', 'up');
        ip('-n', NS[s], 'route', 'add', 'default', 'via', `${net}.1`);
      }
      inNs('fw', 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      // The TCP case needs HIST-1's stack to keep quiet about the spoofed SYN (no RST that would close the
      // entry): the review's compromised historian does that on its own host.
      inNs('hist', 'nft', [
        `add table inet quiet; add chain inet quiet in { type filter hook input priority 0; }; add rule inet quiet in ip saddr ${PLC} tcp sport 102 tcp flags & (syn | ack) == syn drop`,
      ]);
      const apply = async (text: string): Promise<string> =>
        inNs('fw', process.execPath, [
          cli,
          'enforce',
          'apply',
          ...(await labPolicyStore(dir, text)),
          '--family',
          'inet',
          '--port-level-ok',
          '--state-dir',
          path.join(dir, 'state'),
        ]);
      const applied = await apply(POLICY);
      assert.match(applied, /enforcing control/);
      check(
        /refused: spoofed source/.test(applied),
        `apply says spoofed sources are refused: ${applied}`,
      );

      // The allowed flows, both directions of the conduits.
      check((await talks('hist', 'plc', 'tcp', 502)) === 'ANSWER hi', 'HIST-1 polls PLC-1 tcp/502');
      check((await talks('plc', 'hist', 'udp', 123)) === 'ANSWER hi', 'PLC-1 asks the time');
      check((await talks('plc', 'hist', 'tcp', 5450)) === 'ANSWER hi', 'PLC-1 pushes');
      // Without a spoofed packet first, the server still cannot open its client (R1).
      check(
        /^NONE/.test(await talks('hist', 'plc', 'udp', 2222, 123)),
        'R1: HIST-1 from sport 123 reaches udp/2222 on PLC-1',
      );
      // B0: the spoofed packet first, then the server's packet from the group's port.
      check(
        /^NONE/.test(await talks('hist', 'plc', 'udp', 2223, 123, () => spoof('udp', 2223, 123))),
        'B0: after a spoofed PLC-1:2223 -> HIST-1:123, HIST-1 from sport 123 reaches udp/2223 on PLC-1',
      );
      check(
        /^NONE/.test(await talks('hist', 'plc', 'tcp', 102, 5450, () => spoof('tcp', 102, 5450))),
        'B0: after a spoofed SYN PLC-1:102 -> HIST-1:5450, HIST-1 from sport 5450 connects to S7 tcp/102 on PLC-1',
      );
      const st = JSON.parse(
        inNs('fw', process.execPath, [
          cli,
          'enforce',
          'status',
          '--json',
          '--state-dir',
          path.join(dir, 'state'),
        ]),
      ) as { counters: Array<{ rule: string; packets: number }> };
      check(
        (st.counters.find((c) => /spoofed source/.test(c.rule))?.packets ?? 0) >= 2,
        `B0: the spoofed packets are counted (${JSON.stringify(st.counters)})`,
      );

      // A zone that simulates drops nothing: the same sequence passes (logged as "would block").
      await apply(POLICY.replace('mode: enforce', 'mode: simulate'));
      const l = spawn('ip', ['netns', 'exec', NS.hist, 'python3', FRAMES, 'listen', '123', '15']);
      procs.push(l);
      let heard = '';
      l.stdout.on('data', (d: Buffer) => (heard += d.toString()));
      for (let i = 0; i < 100 && !heard.includes('READY'); i++) await sleep(50);
      spoof('udp', 2224, 123);
      await sleep(400);
      l.kill('SIGTERM');
      check(
        heard.includes(`GOT ${PLC} 2224`),
        `simulate: the spoofed packet is dropped (${heard})`,
      );
      check(
        (await talks('hist', 'plc', 'tcp', 502)) === 'ANSWER hi',
        'simulate: HIST-1 polls PLC-1',
      );
      assert.deepEqual(holes, []);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      for (const n of Object.values(NS))
        try {
          ip('netns', 'del', n);
        } catch {
          /* already gone */
        }
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
