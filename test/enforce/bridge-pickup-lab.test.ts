// A long-lived TCP session that conntrack picks up mid-stream with the server's packet first (review 13, M1): an
// IEC 104 station (PLC-1, tcp/2404) sends spontaneous data to its SCADA client while the zone simulates (the ladder's
// step before enforce, which turns conntrack on under live plant sessions); conntrack is flushed, so the first
// packet it meets is the server's. When the zone then enforces, the client must keep receiving: before, the
// server's packets were "original direction", never replies, and the bridge dropped them until the client gave up.
// Real peers in namespaces; the client stays silent (its kernel only ACKs), as a 104 master between test frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { canBuildLab, HOSTS, Plant } from '../lab/plant.js';
import { cli, labPolicyStore, sleep } from './lab-kit.js';

const POLICY = `weir: policy/1
timezone: UTC
assets:
  - { name: SCADA-1, ip: ${HOSTS.hmi} }
  - { name: PLC-1, ip: ${HOSTS.plc1} }
zones:
  - { name: control, members: [PLC-1], mode: simulate, simulation_window: 1m }
groups:
  - { name: scada-104, clients: [SCADA-1], servers: [PLC-1], ports: [2404], access: read-write }
`;

/** The station: accepts one master, then sends a numbered line every 50 ms (spontaneous data), forever. */
const STATION = `
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c_opts = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.bind(('0.0.0.0', 2404)); s.listen(1); print('READY', flush=True)
c, _ = s.accept(); c.setsockopt(*c_opts); i = 0
while True:
    c.sendall(b'%d\\n' % i); i += 1; time.sleep(0.05)
`;
/** The master: prints every line it receives; on SIGUSR1 it sends one byte (a test frame). */
const MASTER = `
import socket, signal, sys
c = socket.create_connection((sys.argv[1], 2404))
signal.signal(signal.SIGUSR1, lambda *_: c.send(b'T'))
print('UP', flush=True)
f = c.makefile('rb')
for line in f: print(line.decode().strip(), flush=True)
`;
/** Flush conntrack of the namespace it runs in (ctnetlink IPCTNL_MSG_CT_DELETE with no tuple); prints the errno. */
const FLUSH = `
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); s.bind((0, 0))
body = struct.pack('BBH', socket.AF_INET, 0, 0)
s.send(struct.pack('=IHHII', 16 + len(body), (1 << 8) | 2, 1 | 4, 1, 0) + body)
print(-struct.unpack('=i', s.recv(4096)[16:20])[0])
`;

test(
  'bridge pickup lab: a session conntrack first meets by its server keeps flowing when the zone goes from simulate to enforce',
  { timeout: 240_000 },
  async (t) => {
    if (!canBuildLab()) {
      if (process.env.CI === 'true') throw new Error('the pickup lab needs root and iproute2');
      return t.skip('needs root to build network namespaces');
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-pickup-'));
    const lab = Plant.up(`weir-pk${Math.random().toString(16).slice(2, 6)}`);
    const stateDir = path.join(dir, 'state');
    const apply = async (mode: string): Promise<string> =>
      lab.exec('fw', process.execPath, [
        cli,
        'enforce',
        'apply',
        ...(await labPolicyStore(dir, POLICY.replace('mode: simulate', `mode: ${mode}`))),
        '--family',
        'bridge',
        '--bridge',
        'br0',
        '--port-level-ok',
        '--state-dir',
        stateDir,
      ]);
    const lines = (p: ChildProcess): (() => string[]) => {
      let out = '';
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return () => out.split('\n').filter(Boolean);
    };
    /** Whether the master receives new lines within `ms` (the machine may be loaded: poll, do not time). */
    const flowing = async (got: () => string[], ms: number): Promise<boolean> => {
      await sleep(500); // lines that came in while a synchronous exec held the event loop
      const before = got().length;
      for (let waited = 0; waited < ms; waited += 100) {
        if (got().length >= before + 10) return true;
        await sleep(100);
      }
      return false;
    };
    /** Packets the enforcing zone's drop rule took (nothing else of this plant meets it). */
    const dropped = (): number =>
      Number(
        /counter packets (\d+) .*comment "enforce: drop"/.exec(
          lab.exec('fw', 'nft', ['list', 'chain', 'bridge', 'weir', 'forward']),
        )?.[1] ?? NaN,
      );
    const tracked = (): string => lab.exec('fw', 'cat', ['/proc/net/nf_conntrack']);
    /** The session as conntrack tracks it: first the station (server-first), its replies seen, or not. */
    const serverFirstTracked = (replied: boolean): boolean =>
      new RegExp(
        `^ipv4 +2 tcp +6 \\d+ \\w+ src=${HOSTS.plc1} dst=${HOSTS.hmi} sport=2404 .*${replied ? 'ASSURED' : ''}`,
        'm',
      ).test(tracked());
    const hold = (on: boolean): void => {
      lab.exec(
        'hmi',
        'nft',
        on
          ? [
              'add table inet weirpkhold; add chain inet weirpkhold out { type filter hook output priority 0; }; ' +
                `add rule inet weirpkhold out ip daddr ${HOSTS.plc1} tcp dport 2404 drop`,
            ]
          : ['delete table inet weirpkhold'],
      );
    };
    const flush = (): void =>
      assert.equal(lab.exec('fw', 'python3', ['-c', FLUSH]).trim(), '0', 'conntrack flush');
    /**
     * The master's ACKs held back (its output to the station dropped) while conntrack is flushed: the first packet
     * conntrack meets is the station's. Tried again if the station sent nothing meanwhile (a loaded machine).
     */
    const serverFirst = async (): Promise<boolean> => {
      for (let attempt = 0; attempt < 5; attempt++) {
        hold(true);
        try {
          flush();
          for (let i = 0; i < 20 && !serverFirstTracked(false); i++) await sleep(20);
        } finally {
          hold(false);
        }
        for (let i = 0; i < 50 && !serverFirstTracked(true); i++) await sleep(100);
        if (serverFirstTracked(true)) return true;
      }
      return false;
    };
    try {
      assert.match(await apply('simulate'), /control/);
      const station = lab.spawn('plc1', 'python3', ['-c', STATION]);
      const stationOut = lines(station);
      for (let i = 0; i < 100 && !stationOut().includes('READY'); i++) await sleep(50);
      const master = lab.spawn('hmi', 'python3', ['-c', MASTER, HOSTS.plc1]);
      const got = lines(master);
      for (let i = 0; i < 100 && !got().includes('UP'); i++) await sleep(50);
      assert.ok(await flowing(got, 10_000), 'the session runs while the zone simulates');

      // A flush under the simulating zone (as the first apply under live sessions): the station's data is the
      // first packet conntrack meets, and nothing drops it, so the connection is tracked server-first.
      assert.ok(await serverFirst(), `tracked server-first: ${tracked()}`);
      assert.ok(await flowing(got, 15_000), 'the session runs after the flush (simulate)');

      assert.match(await apply('enforce'), /enforcing control/);
      assert.ok(
        await flowing(got, 15_000),
        `M1: the master receives nothing once the zone enforces (a server-first session is cut): ${tracked()}`,
      );
      await sleep(1000);
      assert.equal(
        dropped(),
        0,
        "M1: the station's packets are dropped once the zone enforces (its session stalls until TCP finds a way)",
      );

      // A flush while the zone enforces: the station's packets are new and dropped until the master speaks (a test
      // frame; a 104 master sends one after t3 of silence); then the session flows again.
      hold(true);
      try {
        flush();
        await sleep(500);
      } finally {
        hold(false);
      }
      master.kill('SIGUSR1');
      assert.ok(
        await flowing(got, 15_000),
        'the master receives nothing after a flush under enforce and its test frame',
      );
      // Still one session: the station numbered its lines without a gap.
      const nums = got()
        .filter((l) => /^\d+$/.test(l))
        .map(Number);
      assert.deepEqual(
        nums,
        nums.map((_, i) => nums[0]! + i),
      );
    } finally {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
