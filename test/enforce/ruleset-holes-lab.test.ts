// What crossed a bridge whose control zone enforces although the policy refuses it (review 12): a group's server
// opening connections to its client on any port (R1, UDP even with a spoofed source), double-tagged frames past
// every rule (R2), IPv6 — link-local included — to the enforced PLCs (R3). Real peers in namespaces; the allowed
// flows (TCP and UDP request/reply both ways, single-tagged frames, PROFINET and GOOSE) must keep working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canBuildLab, HOSTS, Plant, type Host } from '../lab/plant.js';
import { repoRoot } from '../helpers/paths.js';
import { cli, labPolicyStore, sleep } from './lab-kit.js';

const FRAMES = path.join(repoRoot, 'test/enforce/frames.py');

const POLICY = `weir: policy/1
timezone: UTC
assets:
  - { name: HMI-1, ip: ${HOSTS.hmi} }
  - { name: HIST-1, ip: ${HOSTS.historian} }
  - { name: PLC-1, ip: ${HOSTS.plc1} }
  - { name: PLC-2, ip: ${HOSTS.plc2} }
zones:
  - { name: supervisory, members: [HMI-1, HIST-1], mode: monitor }
  - { name: control, members: [PLC-1, PLC-2], mode: enforce, simulation_window: 1m }
conduits:
  - { name: sup-ctl, from: supervisory, to: control }
  - { name: ctl-sup, from: control, to: supervisory }
groups:
  - { name: hmi-plc1, conduit: sup-ctl, clients: [HMI-1], servers: [PLC-1], ports: [502], access: read-write }
  - { name: plc-ntp, conduit: ctl-sup, clients: [PLC-1], servers: [HIST-1], ports: [123], transport: udp, access: read-only }
  - { name: plc-push, conduit: ctl-sup, clients: [PLC-1], servers: [HIST-1], ports: [5450], access: read-write }
`;

test(
  'ruleset lab: a server cannot open its client, double tags and IPv6 do not cross an enforcing bridge; allowed flows keep working',
  { timeout: 300_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the ruleset lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-holes-'));
    const lab = Plant.up();
    const stateDir = path.join(dir, 'state');
    const weir = (...args: string[]): string =>
      lab.exec('fw', process.execPath, [
        cli,
        ...args,
        ...(args[0] === 'enforce' ? ['--state-dir', stateDir] : []),
      ]);
    const mac = (h: Host): string => lab.mac(h);
    const frames = (h: Host, ...args: string[]): string =>
      lab.exec(h, 'python3', [FRAMES, ...args], { timeoutMs: 10_000 });
    /** Run a listener or server on `h` while `act` runs; whether anything reached it. */
    const reached = async (h: Host, args: string[], act: () => void): Promise<boolean> => {
      const p = lab.spawn(h, 'python3', [FRAMES, ...args]);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      for (let i = 0; i < 100 && !out.includes('READY'); i++) await sleep(50);
      act();
      await sleep(400);
      if (p.exitCode === null && p.signalCode === null)
        await new Promise<void>((r) => {
          p.once('close', () => r());
          p.kill('SIGTERM');
        });
      return out.includes('GOT');
    };
    const ask = (from: Host, proto: 'tcp' | 'udp', to: string, port: number, sport = 0): string =>
      frames(from, 'ask', proto, to, String(port), String(sport)).trim();
    /** A server on `to` answers what `from` asks: the whole request/reply passed. */
    const talks = async (
      from: Host,
      to: Host,
      proto: 'tcp' | 'udp',
      port: number,
      sport = 0,
    ): Promise<string> => {
      let answer = '';
      await reached(to, ['serve', proto, String(port), '15'], () => {
        answer = ask(from, proto, HOSTS[to], port, sport);
      });
      return answer;
    };
    /** One raw IPv4/UDP frame from `from`'s port (any source address, optional tags) to a listener on `to`. */
    const delivered = (
      from: Host,
      src: string,
      to: Host,
      sport: number,
      dport: number,
      tags: string,
    ): Promise<boolean> =>
      reached(to, ['listen', String(dport), '15'], () => {
        frames(
          from,
          'send',
          'eth0',
          mac(to),
          src,
          HOSTS[to],
          String(sport),
          String(dport),
          tags,
          'x',
        );
      });
    /** A packet in PLC-1's name to HIST-1 from the attacker's port, addressed to PLC-1's MAC (PLC-1 drops it). */
    const spoof = (proto: 'tcp' | 'udp', sport: number, dport: number): void => {
      const [cmd, tail] = proto === 'udp' ? ['send', ['none', 'x']] : ['syn', []];
      frames(
        'attacker',
        cmd,
        'eth0',
        mac('plc1'),
        HOSTS.plc1,
        HOSTS.historian,
        String(sport),
        String(dport),
        ...tail,
      );
    };
    /** `spoof`, then `from` asks a server on `to`: the answer, or NONE. */
    const afterSpoof = async (
      proto: 'tcp' | 'udp',
      spoofSport: number,
      spoofDport: number,
      from: Host,
      to: Host,
      askProto: 'tcp' | 'udp',
      port: number,
      sport: number,
    ): Promise<string> => {
      let answer = '';
      await reached(to, ['serve', askProto, String(port), '15'], () => {
        spoof(proto, spoofSport, spoofDport);
        answer = ask(from, askProto, HOSTS[to], port, sport);
      });
      return answer;
    };
    // Every check is collected, so one run names every hole (and, before the fixes, every one that was open).
    const holes: string[] = [];
    const check = (ok: boolean, what: string): void => {
      if (!ok) holes.push(what);
    };
    try {
      const auth = await labPolicyStore(dir, POLICY);
      const applied = weir(
        'enforce',
        'apply',
        ...auth,
        '--family',
        'bridge',
        '--bridge',
        'br0',
        '--port-level-ok',
      );
      assert.match(applied, /enforcing control/);
      // R3: the output says IPv6 is refused, and status keeps saying it.
      check(/refused: IPv6/.test(applied), `apply says IPv6 is refused: ${applied}`);
      check(/refused: .*IPv6/.test(weir('enforce', 'status')), 'status says IPv6 is refused');

      // The allowed flows: TCP and UDP request/reply in both directions of the conduits.
      check((await talks('hmi', 'plc1', 'tcp', 502)) === 'ANSWER hi', 'HMI polls PLC-1 tcp/502');
      check((await talks('plc1', 'historian', 'udp', 123)) === 'ANSWER hi', 'PLC-1 asks the time');
      check((await talks('plc1', 'historian', 'tcp', 5450)) === 'ANSWER hi', 'PLC-1 pushes');
      check(
        (await talks('plc1', 'historian', 'udp', 123, 123)) === 'ANSWER hi',
        'NTP from port 123 to 123 (symmetric mode)',
      );

      // R1: the group's server (HIST-1) from the group's port reaches no other port of its client PLC-1.
      check(
        /^NONE/.test(await talks('historian', 'plc1', 'tcp', 102, 5450)),
        'R1: HIST-1 from sport 5450 connects to S7 tcp/102 on PLC-1',
      );
      check(
        /^NONE/.test(await talks('historian', 'plc1', 'udp', 2222, 123)),
        'R1: HIST-1 from sport 123 reaches ENIP I/O udp/2222 on PLC-1',
      );
      check(
        !(await delivered('attacker', HOSTS.historian, 'plc1', 123, 47808, 'none')),
        'R1: the attacker spoofing HIST-1:123 reaches BACnet udp/47808 on PLC-1',
      );
      check(
        !(await delivered('historian', HOSTS.historian, 'plc1', 40000, 2222, 'none')),
        'HIST-1 from sport 40000 reaches udp/2222 on PLC-1',
      );

      // B0 (review 12b): one spoofed packet in PLC-1's name (addressed to PLC-1's MAC, which discards it) first
      // makes the server's next packet a conntrack "reply"; a reply must leave by the port its connection's first
      // packet came in on. UDP and TCP (simultaneous open), the attacker alone or with the group's server.
      check(
        /^NONE/.test(await afterSpoof('udp', 2224, 123, 'historian', 'plc1', 'udp', 2224, 123)),
        'B0: after a spoofed PLC-1:2224 -> HIST-1:123, HIST-1 from sport 123 reaches udp/2224 on PLC-1',
      );
      check(
        !(await reached('plc1', ['listen', '47808', '15'], () => {
          spoof('udp', 47808, 123);
          frames(
            'attacker',
            'send',
            'eth0',
            mac('plc1'),
            HOSTS.historian,
            HOSTS.plc1,
            '123',
            '47808',
            'none',
            'x',
          );
        })),
        'B0: the attacker, after a spoofed PLC-1:47808 -> HIST-1:123, reaches BACnet udp/47808 on PLC-1 as HIST-1:123',
      );
      check(
        /^NONE/.test(await afterSpoof('tcp', 102, 5450, 'historian', 'plc1', 'tcp', 102, 5450)),
        'B0: after a spoofed SYN PLC-1:102 -> HIST-1:5450, HIST-1 from sport 5450 connects to S7 tcp/102 on PLC-1 (simultaneous open)',
      );

      // L1 (review 12): an ICMP error about no tracked connection does not reach the enforced PLC; one about a
      // connection conntrack tracks does (HIST-1 has no NTP server: PLC-1 learns "port unreachable" at once).
      check(
        !(await reached('plc1', ['sniff', 'eth0', '15', 'weir-icmp-l1'], () => {
          frames(
            'attacker',
            'icmp',
            'eth0',
            mac('plc1'),
            HOSTS.attacker,
            HOSTS.plc1,
            'weir-icmp-l1',
          );
        })),
        'L1: the attacker delivers "port unreachable" to PLC-1',
      );
      check(
        await reached('plc1', ['sniff', 'eth0', '15', 'weir-l1-tracked'], () => {
          frames(
            'plc1',
            'send',
            'eth0',
            mac('historian'),
            HOSTS.plc1,
            HOSTS.historian,
            '40001',
            '123',
            'none',
            'weir-l1-tracked',
          );
        }),
        'L1: the port unreachable of a tracked connection (PLC-1 -> HIST-1 udp/123) does not reach PLC-1',
      );

      // R2: frames still tagged after the kernel strips one tag are dropped; single-tagged ones are judged as before.
      for (const tags of ['0,0', 's0,0'])
        check(
          !(await delivered('attacker', HOSTS.attacker, 'plc1', 40000, 2222, tags)),
          `R2: a frame tagged ${tags} reaches udp/2222 on PLC-1`,
        );
      check(
        !(await delivered('attacker', HOSTS.attacker, 'plc1', 40000, 2222, '0')),
        'a priority-tagged frame reaches udp/2222 on PLC-1',
      );
      check(
        await delivered('plc1', HOSTS.plc1, 'historian', 40000, 123, '0'),
        'a priority-tagged frame of an allowed flow (PLC-1 -> HIST-1 udp/123) is dropped',
      );
      // Layer-2 plant protocols pass, priority-tagged (PROFINET RT) or not (GOOSE).
      for (const [etype, tags] of [
        ['8892', '0'],
        ['88b8', 'none'],
      ] as const)
        check(
          await reached('plc1', ['sniff', 'eth0', '15', `weir-l2-${etype}`], () => {
            frames('hmi', 'l2', 'eth0', mac('plc1'), etype, tags, `weir-l2-${etype}`);
          }),
          `ethertype ${etype} (tags ${tags}) is dropped`,
        );
      const st = JSON.parse(weir('enforce', 'status', '--json')) as {
        counters: Array<{ rule: string; packets: number }>;
      };
      check(
        (st.counters.find((c) => /VLAN-tagged/.test(c.rule))?.packets ?? 0) >= 2,
        `R2: the tagged frames are counted (${JSON.stringify(st.counters)})`,
      );

      // R3: IPv6 to the enforced PLC over link-local is refused; neighbour discovery still answers.
      const ll = (h: Host): string =>
        (
          JSON.parse(
            lab.exec(h, 'ip', ['-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']),
          ) as Array<{
            addr_info: Array<{ local: string }>;
          }>
        )[0]!.addr_info[0]!.local;
      let plcLl = '';
      for (let i = 0; i < 40 && !plcLl; i++)
        try {
          plcLl = ll('plc1');
        } catch {
          await sleep(100);
        }
      await sleep(2000); // duplicate address detection of the link-local addresses
      let udp6 = '';
      const got6 = await reached('plc1', ['serve', 'udp', '2222', '15'], () => {
        udp6 = ask('attacker', 'udp', `${plcLl}%eth0`, 2222);
      });
      check(!got6, `R3: UDP over IPv6 link-local reaches PLC-1 udp/2222 (${udp6})`);
      let tcp6 = '';
      await reached('plc1', ['serve', 'tcp', '102', '15'], () => {
        tcp6 = ask('attacker', 'tcp', `${plcLl}%eth0`, 102);
      });
      check(/^NONE/.test(tcp6), `R3: TCP over IPv6 link-local connects to PLC-1 tcp/102 (${tcp6})`);
      check(
        lab
          .exec('attacker', 'ip', ['-6', 'neigh', 'show', 'dev', 'eth0'])
          .includes(`${plcLl} lladdr ${mac('plc1')}`),
        'neighbour discovery does not resolve PLC-1',
      );
      // B0: a zone that simulates drops nothing — the same sequence still passes (logged as "would block").
      const simAuth = await labPolicyStore(dir, POLICY.replace('mode: enforce', 'mode: simulate'));
      weir(
        'enforce',
        'apply',
        ...simAuth,
        '--family',
        'bridge',
        '--bridge',
        'br0',
        '--port-level-ok',
      );
      check(
        /^ANSWER hi/.test(
          await afterSpoof('udp', 2225, 123, 'historian', 'plc1', 'udp', 2225, 123),
        ),
        'B0: a simulating zone drops the reply that follows a spoofed packet',
      );
      assert.deepEqual(holes, []);
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
