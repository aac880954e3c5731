import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  captureCommand,
  type CaptureStatus,
  findCaptureHelper,
  helperArgs,
  tcpdumpArgs,
  liveCapture,
  stopReason,
  type CaptureHelper,
} from '../../src/capture/live.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { canBuildLab } from '../lab/plant.js';
import { captureListening } from '../helpers/capture-ready.js';
import { repoRoot } from '../helpers/paths.js';

// weir-capture (src/capture/weir-capture.c) is built by scripts/build-capture-helper.sh, which
// scripts/install-deps.sh runs; under CI a missing helper fails rather than skips.
const helper = findCaptureHelper();
const skip =
  process.env.CI === 'true'
    ? false
    : !canBuildLab()
      ? 'needs root and iproute2'
      : !helper
        ? 'weir-capture not built (scripts/build-capture-helper.sh)'
        : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A namespace of the test's own with its loopback up; removed afterwards. */
async function inNamespace(run: (ns: string) => Promise<void>): Promise<void> {
  const ns = `weir-lh-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await run(ns);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

/** Sends UDP datagrams 'weir' to 127.0.0.1 inside the namespace, one port after the other, `gapMs` apart. */
function sendUdp(ns: string, ports: number[], gapMs = 20): void {
  const js = `const d=require('dgram').createSocket('udp4');const p=${JSON.stringify(ports)};let i=0;const f=()=>{if(i>=p.length){d.close();return;}d.send('weir',p[i++],'127.0.0.1',()=>setTimeout(f,${gapMs}));};f();`;
  execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]);
}

/** Processes still running in the namespace (the capture helper, if it outlived its reader). */
function pidsIn(ns: string): string[] {
  return execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/).filter(Boolean);
}

/** Captures UDP on the namespace's loopback; returns the destination ports seen and each frame's delay. */
function capture(
  ns: string,
  bpf: string,
  helperName: CaptureHelper = 'weir-capture',
  immediate = false,
) {
  const ac = new AbortController();
  const ports: number[] = [];
  const delays: number[] = []; // seconds from the kernel's time stamp to the frame reaching Weir
  const pkt = newPacket();
  const done = liveCapture(
    'lo',
    (f) => {
      delays.push(Date.now() / 1000 - f.ts);
      decodeFrame(f, pkt);
      if (pkt.ipProto === 17) ports.push(pkt.dstPort);
    },
    { netns: ns, bpf, signal: ac.signal, helper: helperName, immediate },
  );
  return { ac, ports, delays, done };
}

test(
  'weir-capture: a lone frame on an idle link reaches Weir within its buffer timeout, not when more traffic comes',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const c = capture(ns, 'udp');
      await capturing(ns);
      sendUdp(ns, [47100]);
      // Wait up to 3 s for the one frame; nothing else is sent, so only the timeout can release it.
      for (let i = 0; i < 30 && c.ports.length === 0; i++) await sleep(100);
      c.ac.abort();
      const s = await c.done;
      assert.equal(s.helper, 'weir-capture');
      assert.deepEqual(c.ports, [47100]);
      assert.ok(c.delays[0] < 1, `lone frame waited ${c.delays[0].toFixed(3)} s`);
      assert.equal(s.frames, 1);
      // libpcap's "received by filter" counts loopback's outgoing copy too, which it then discards.
      assert.equal(s.counters?.captured, 1, JSON.stringify(s.counters));
      assert.ok(s.counters.receivedByFilter >= 1);
      assert.equal(s.counters.droppedByKernel, 0);
    });
  },
);

test(
  'weir-capture in immediate mode (-I) hands a lone frame on at once',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const c = capture(ns, 'udp', 'weir-capture', true);
      await capturing(ns);
      sendUdp(ns, [47150]);
      for (let i = 0; i < 30 && c.ports.length === 0; i++) await sleep(100);
      c.ac.abort();
      const s = await c.done;
      assert.deepEqual(c.ports, [47150]);
      assert.ok(c.delays[0] < 0.5, `lone frame waited ${c.delays[0].toFixed(3)} s`);
      assert.equal(s.counters?.captured, 1);
    });
  },
);

test(
  'weir-capture: the BPF filter applies, and its counters report what it captured',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const c = capture(ns, 'udp dst port 47201');
      await capturing(ns);
      const ports = Array.from({ length: 50 }, (_, i) => 47200 + (i % 5));
      sendUdp(ns, ports, 5);
      for (let i = 0; i < 30 && c.ports.length < 10; i++) await sleep(100);
      c.ac.abort();
      const s = await c.done;
      assert.deepEqual(c.ports, Array(10).fill(47201));
      assert.equal(s.counters?.captured, 10, JSON.stringify(s.counters));
      assert.ok(s.counters.receivedByFilter >= 10);
      assert.equal(s.counters.droppedByKernel, 0);
    });
  },
);

test(
  'weir-capture: a bad filter is a clear error, and the helper leaves with its reader, even a killed one',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      await assert.rejects(
        liveCapture('lo', () => {}, { netns: ns, bpf: 'udp prot 1', helper: 'weir-capture' }),
        /weir-capture on lo failed: .*filter "udp prot 1"/,
      );
      // Stopped through its signal: nothing left running in the namespace.
      const c = capture(ns, 'udp');
      await sleep(500);
      c.ac.abort();
      await c.done;
      assert.deepEqual(pidsIn(ns), []);
      // A reader killed outright (SIGKILL: no chance to stop its helper) still takes the helper with it.
      const live = new URL('../../src/capture/live.js', import.meta.url).href;
      const reader = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `import { liveCapture } from ${JSON.stringify(live)}; liveCapture('lo', () => {}, { netns: ${JSON.stringify(ns)}, helper: 'weir-capture' });`,
        ],
        { stdio: 'ignore' },
      );
      for (let i = 0; i < 50 && pidsIn(ns).length === 0; i++) await sleep(100);
      assert.equal(pidsIn(ns).length, 1, 'the helper runs in the namespace');
      reader.kill('SIGKILL');
      for (let i = 0; i < 30 && pidsIn(ns).length > 0; i++) await sleep(100);
      assert.deepEqual(pidsIn(ns), [], 'the helper left when its reader died');
    });
  },
);

/** A running process's credentials and capabilities, from /proc/<pid>/status. */
function credentials(pid: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb|NoNewPrivs):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** The namespace's one process (the helper), waited for. */
async function helperPid(ns: string): Promise<string> {
  for (let i = 0; i < 50 && pidsIn(ns).length === 0; i++) await sleep(100);
  const pids = pidsIn(ns);
  assert.equal(pids.length, 1, `one helper in the namespace: ${pids.join(' ')}`);
  return pids[0]!;
}

/** The namespace's one process, the helper, once it captures (test/helpers/capture-ready.ts). */
async function capturing(ns: string): Promise<string> {
  const pid = await helperPid(ns);
  assert.equal(await captureListening(ns), pid);
  return pid;
}

const nobody = execFileSync('id', ['-u', 'nobody']).toString().trim();
const nogroup = execFileSync('id', ['-g', 'nobody']).toString().trim();
/** capture.user's default: the capture's own system account (scripts/install-deps.sh creates it). */
const ownUser = spawnSync('id', ['-u', 'weir-capture'], { encoding: 'utf8' });
const own = ownUser.stdout.trim();
const ownGroup = spawnSync('id', ['-g', 'weir-capture'], { encoding: 'utf8' }).stdout.trim();
const skipOwn =
  skip ||
  (ownUser.status !== 0 && process.env.CI !== 'true'
    ? 'no weir-capture user (scripts/install-deps.sh creates it)'
    : false);

test(
  'weir-capture started as root gives root up once the interface is open (to its own weir-capture user by default): no root uid or gid, no groups, no capabilities, and frames still arrive',
  { skip: skipOwn, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const statuses: CaptureStatus[] = [];
      const ac = new AbortController();
      const ports: number[] = [];
      const pkt = newPacket();
      const done = liveCapture(
        'lo',
        (f) => {
          decodeFrame(f, pkt);
          if (pkt.ipProto === 17) ports.push(pkt.dstPort);
        },
        {
          netns: ns,
          bpf: 'udp',
          signal: ac.signal,
          helper: 'weir-capture',
          onStatus: (c) => statuses.push(c),
        },
      );
      const pid = await capturing(ns);
      const cred = credentials(pid);
      assert.deepEqual(
        cred.Uid!.split(/\s+/),
        [own, own, own, own],
        'real, effective, saved, fs uid',
      );
      assert.deepEqual(cred.Gid!.split(/\s+/), [ownGroup, ownGroup, ownGroup, ownGroup]);
      assert.equal(cred.Groups, '', 'no supplementary groups');
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb'])
        assert.equal(cred[set], '0000000000000000', `${set} empty`);
      assert.equal(cred.NoNewPrivs, '1');
      sendUdp(ns, [47300, 47301]);
      for (let i = 0; i < 30 && ports.length < 2; i++) await sleep(100);
      await sleep(1200); // one running counters line at least
      ac.abort();
      const s = await done;
      assert.deepEqual(ports, [47300, 47301]);
      assert.equal(s.counters?.captured, 2);
      // The dashboard's status: the program at once, then counters while running, then the closing ones.
      assert.deepEqual(statuses[0], { program: 'weir-capture', counters: null, state: 'running' });
      const running = statuses.slice(1, -1);
      assert.ok(running.length >= 1, `counters while running: ${JSON.stringify(statuses)}`);
      assert.ok(running.every((r) => r.state === 'running'));
      assert.equal(running.at(-1)!.counters!.captured, 2);
      // Stopped as asked: no reason, the closing counters.
      assert.deepEqual(statuses.at(-1), {
        program: 'weir-capture',
        counters: s.counters,
        state: 'stopped',
      });
      assert.equal(s.error, null);
      assert.equal(s.counters.droppedByInterface, 0);
    });
  },
);

test(
  'weir-capture run by a non-root Weir with ambient CAP_NET_RAW (the Debian units): keeps its user, drops every capability, still captures',
  {
    skip: skip || (process.getuid?.() !== 0 ? 'needs root to set up the user' : false),
    timeout: 60_000,
  },
  async () => {
    await inNamespace(async (ns) => {
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'setpriv',
          `--reuid=${nobody}`,
          `--regid=${nogroup}`,
          '--clear-groups',
          '--inh-caps=+net_raw,+net_admin',
          '--ambient-caps=+net_raw,+net_admin',
          helper!,
          '-i',
          'lo',
          // Not root: there is no user to switch to, so a missing one does not matter (not even looked up).
          '-Z',
          'no-such-weir-user',
          'udp',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let bytes = 0;
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (bytes += b.length));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const closed = new Promise<number | null>((r) => child.on('close', r));
      const pid = await capturing(ns);
      const cred = credentials(pid);
      assert.deepEqual(cred.Uid!.split(/\s+/), [nobody, nobody, nobody, nobody]);
      for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb'])
        assert.equal(cred[set], '0000000000000000', `${set} empty: ${stderr}`);
      assert.equal(cred.NoNewPrivs, '1');
      sendUdp(ns, [47310]);
      for (let i = 0; i < 30 && bytes <= 24; i++) await sleep(100);
      child.kill('SIGINT');
      assert.equal(await closed, 0, stderr);
      assert.ok(bytes > 24, 'the pcap header and a frame');
      assert.match(stderr, /^1 packets? captured$/m);
    });
  },
);

test(
  'weir-capture refuses to capture when the switch to its user does not take (root without CAP_SETUID)',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      // Root whose bounding set lacks CAP_SETUID: the interface opens, setuid(nobody) fails.
      const r = spawnSync(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'setpriv',
          '--bounding-set=-setuid',
          helper!,
          '-i',
          'lo',
          '-Z',
          'nobody',
        ],
        { encoding: 'utf8', timeout: 10_000 },
      );
      assert.equal(r.status, 1, r.stderr);
      assert.match(
        r.stderr,
        /weir-capture: cannot switch to user nobody: Operation not permitted; not capturing/,
      );
      assert.doesNotMatch(r.stderr, /listening on/);
      assert.equal(r.stdout, '', 'not a byte of capture written');
    });
  },
);

test(
  'weir-capture: a user that does not exist (or root) is a clear error, and no capture is opened',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const statuses: CaptureStatus[] = [];
      await assert.rejects(
        liveCapture('lo', () => {}, {
          netns: ns,
          helper: 'weir-capture',
          user: 'no-such-weir-user',
          onStatus: (c) => statuses.push(c),
        }),
        /weir-capture on lo failed: .*no such user "no-such-weir-user" to run as \(capture\.user\); not capturing/,
      );
      assert.equal(statuses.length, 2, JSON.stringify(statuses));
      assert.deepEqual(statuses[0], { program: 'weir-capture', counters: null, state: 'running' });
      assert.equal(statuses[1]!.state, 'stopped', 'never listened, never counted');
      assert.equal(statuses[1]!.counters, null);
      assert.match(statuses[1]!.reason!, /no such user "no-such-weir-user".*adduser --system/);
      // The tcpdump fallback's -Z with the same missing account: its error, and how to create the account.
      await assert.rejects(
        liveCapture('lo', () => {}, { netns: ns, helper: 'tcpdump', user: 'no-such-weir-user' }),
        /tcpdump on lo failed: tcpdump: Couldn't find user 'no-such-weir-user' \(capture\.user; create it: adduser --system/,
      );
      await assert.rejects(
        liveCapture('lo', () => {}, { netns: ns, helper: 'weir-capture', user: 'root' }),
        /root is no user "root" to run as/,
      );
      assert.deepEqual(pidsIn(ns), []);
    });
  },
);

test(
  'weir-capture: the interface going away mid-capture ends the helper, and the run says so with the frames it had',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      // A veth pair inside the namespace: capture on one end; ARP for an absent neighbour leaves by the other.
      execFileSync('ip', ['-n', ns, 'link', 'add', 'cap0', 'type', 'veth', 'peer', 'name', 'gen0']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'cap0', 'up']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'gen0', 'up']);
      execFileSync('ip', ['-n', ns, 'addr', 'add', '10.99.0.2/24', 'dev', 'gen0']);
      let frames = 0;
      const done = liveCapture('cap0', () => frames++, { netns: ns, helper: 'weir-capture' });
      await capturing(ns);
      const js = `require('dgram').createSocket('udp4').send('weir',47400,'10.99.0.9',(e,)=>process.exit(0))`;
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]);
      for (let i = 0; i < 40 && frames === 0; i++) await sleep(100);
      assert.ok(frames > 0, 'ARP requests reached the capture');
      execFileSync('ip', ['-n', ns, 'link', 'del', 'gen0']);
      const s = await done; // no abort: the helper left by itself
      assert.equal(s.error?.framesBefore, s.frames);
      assert.match(
        s.error!.reason,
        /^weir-capture stopped: cap0: The interface (disappeared|went down)/,
      );
      assert.ok(s.frames > 0);
      for (let i = 0; i < 30 && pidsIn(ns).length > 0; i++) await sleep(100);
      assert.deepEqual(pidsIn(ns), []);
    });
  },
);

const cli = path.join(repoRoot, 'dist/src/cli/main.js');

/** A store that learned the plant fixture, for `weir detect --interface` runs; removed afterwards. */
async function withLearnedStore(run: (db: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-lh-'));
  const db = path.join(dir, 'weir.db');
  try {
    execFileSync(
      process.execPath,
      [cli, 'learn', path.join(repoRoot, 'fixtures/plant.pcap'), '--db', db, '--create'],
      { stdio: 'ignore' },
    );
    await run(db);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  'weir detect --interface: the interface going away is said on stderr with its reason, and the run exits 4 (incomplete)',
  { skip, timeout: 90_000 },
  async () => {
    await withLearnedStore(async (db) => {
      await inNamespace(async (ns) => {
        execFileSync('ip', [
          '-n',
          ns,
          'link',
          'add',
          'cap0',
          'type',
          'veth',
          'peer',
          'name',
          'gen0',
        ]);
        for (const i of ['cap0', 'gen0']) execFileSync('ip', ['-n', ns, 'link', 'set', i, 'up']);
        execFileSync('ip', ['-n', ns, 'addr', 'add', '10.99.0.2/24', 'dev', 'gen0']);
        const run = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            process.execPath,
            cli,
            'detect',
            '--interface',
            'cap0',
            '--baseline',
            db,
          ],
          {
            stdio: ['ignore', 'ignore', 'pipe'],
          },
        );
        let stderr = '';
        run.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        const exited = new Promise<number | null>((r) => run.on('close', r));
        for (let i = 0; i < 100 && pidsIn(ns).length < 2; i++) await sleep(100); // Weir and its helper
        await sleep(1000);
        const js = `require('dgram').createSocket('udp4').send('weir',47400,'10.99.0.9',()=>process.exit(0))`;
        execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]);
        await sleep(1500); // ARP requests reach the capture and Weir
        execFileSync('ip', ['-n', ns, 'link', 'del', 'gen0']);
        const code = await exited;
        assert.match(
          stderr,
          /weir: live:cap0: capture stopped after [1-9]\d* frames: weir-capture stopped: cap0: The interface (disappeared|went down)/,
          stderr,
        );
        assert.equal(code, 4, stderr);
      });
    });
  },
);

test('the capture program: weir-capture when built, tcpdump when asked for or when it is missing', () => {
  assert.deepEqual(helperArgs('eth1', { bpf: 'tcp  port 502', immediate: true }), [
    '-i',
    'eth1',
    '-Z',
    'weir-capture',
    '-s',
    '0',
    '-B',
    '32768',
    '-t',
    '100',
    '-S',
    '1',
    '-I',
    '--',
    'tcp',
    'port',
    '502',
  ]);
  // A filter is a filter, never options: words after `--` (a filter "-Z root" would have changed the user).
  for (const args of [
    helperArgs('eth1', { bpf: '-Z root' }),
    tcpdumpArgs('eth1', { bpf: '-Z root' }),
  ])
    assert.deepEqual(args.slice(-3), ['--', '-Z', 'root']);
  assert.equal(captureCommand('eth1', { helper: 'tcpdump' }).name, 'tcpdump');
  const saved = process.env.WEIR_CAPTURE_HELPER;
  try {
    process.env.WEIR_CAPTURE_HELPER = '/nonexistent/weir-capture';
    assert.equal(findCaptureHelper(), null);
    assert.equal(captureCommand('eth1').name, 'tcpdump');
    assert.throws(() => captureCommand('eth1', { helper: 'weir-capture' }), /not built/);
  } finally {
    if (saved === undefined) delete process.env.WEIR_CAPTURE_HELPER;
    else process.env.WEIR_CAPTURE_HELPER = saved;
  }
  if (helper) assert.equal(captureCommand('eth1').name, 'weir-capture');
});

/** Statuses of a live capture on the namespace's loopback, and its helper's pid once it listens and counts. */
async function watched(ns: string, helperName: CaptureHelper = 'weir-capture') {
  const statuses: CaptureStatus[] = [];
  const ac = new AbortController();
  const seen = { frames: 0 };
  const done = liveCapture('lo', () => seen.frames++, {
    netns: ns,
    bpf: 'udp',
    signal: ac.signal,
    helper: helperName,
    onStatus: (c) => statuses.push(c),
  });
  const pid = await helperPid(ns);
  for (let i = 0; i < 50 && !statuses.some((s) => s.counters !== null); i++) await sleep(100);
  assert.ok(
    statuses.some((s) => s.counters !== null),
    `counting: ${JSON.stringify(statuses)}`,
  );
  return { statuses, ac, done, seen, pid: Number(pid) };
}

/** Sends `sig` to `pid` from a process running as the capture user: as any other process of that user could. */
function killAs(pid: number, sig: string): void {
  const r = spawnSync('kill', [`-${sig}`, String(pid)], {
    uid: Number(own),
    gid: Number(ownGroup),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `kill as weir-capture: ${r.stderr}`);
}

for (const helperName of ['weir-capture', 'tcpdump'] as const)
  test(
    `${helperName}: a SIGTERM from another process of the capture user is an early stop with its reason, never a normal end`,
    { skip: skipOwn, timeout: 60_000 },
    async () => {
      await inNamespace(async (ns) => {
        const c = await watched(ns, helperName);
        sendUdp(ns, [47500]); // one frame: the run then resolves, with its error
        for (let i = 0; i < 30 && c.seen.frames === 0; i++) await sleep(100);
        assert.equal(c.seen.frames, 1, 'the frame reached Weir');
        killAs(c.pid, 'TERM');
        const s = await c.done;
        assert.ok(s.error !== null, `an early stop, not "capture finished": ${JSON.stringify(s)}`);
        assert.equal(s.error.framesBefore, s.frames);
        if (helperName === 'weir-capture')
          // The helper names who stopped it (exit 3), so the reason is its word, not a guess.
          assert.match(
            s.error.reason,
            new RegExp(`^weir-capture stopped: stopped by signal 15 from pid \\d+ uid ${own}$`),
          );
        // tcpdump stops with exit 0 on SIGTERM; Weir did not ask, so it is an early stop all the same.
        // (A SIGUSR1 of Weir's asking its counters can land as it closes: it then says pcap_stats failed.)
        else
          assert.match(
            s.error.reason,
            /^tcpdump stopped: (exited \(code 0\) without being asked to stop|pcap_stats: .*)$/,
          );
        const last = c.statuses.at(-1)!;
        assert.equal(last.state, 'stopped');
        assert.ok(last.reason, 'the status carries the reason');
        assert.deepEqual(pidsIn(ns), []);
      });
    },
  );

test(
  'weir-capture: SIGSTOP (frozen, while the dashboard would show it live) reads as stalled within a few seconds; SIGCONT as running again',
  { skip: skipOwn, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const c = await watched(ns);
      const t0 = Date.now();
      process.kill(c.pid, 'SIGSTOP');
      for (let i = 0; i < 100 && !c.statuses.some((s) => s.state === 'stalled'); i++)
        await sleep(100);
      const stalled = c.statuses.findIndex((s) => s.state === 'stalled');
      assert.ok(stalled >= 0, `stalled: ${JSON.stringify(c.statuses)}`);
      const after = (Date.now() - t0) / 1000;
      // STALL_AFTER_S (3 s) after the last counters line; the upper bound leaves a loaded machine room.
      assert.ok(after >= 1.5 && after <= 8, `stalled after ${after.toFixed(1)} s`);
      assert.match(c.statuses[stalled]!.reason!, /no counters from weir-capture for \d+ s/);
      assert.equal(c.statuses.filter((s) => s.state === 'stalled').length, 1, 'said once');
      process.kill(c.pid, 'SIGCONT');
      for (let i = 0; i < 30 && c.statuses.at(-1)!.state !== 'running'; i++) await sleep(100);
      assert.equal(c.statuses.at(-1)!.state, 'running', JSON.stringify(c.statuses.slice(stalled)));
      c.ac.abort();
      const s = await c.done;
      assert.equal(s.error, null, 'stopped as asked');
    });
  },
);

test(
  'weir-capture: a Weir busy for longer than the stall window (its event loop blocked) does not take the helper for stalled',
  { skip: skipOwn, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const c = await watched(ns);
      for (let i = 0; i < 30 && !c.statuses.some((s) => s.counters !== null); i++) await sleep(100);
      assert.ok(
        c.statuses.some((s) => s.counters !== null),
        'running counters came before the busy spell',
      );
      try {
        // A long synchronous spell (a big store write, a slow dissector): the helper's counters wait in the pipe.
        const until = Date.now() + 4_500;
        while (Date.now() < until);
        await sleep(1_500);
        assert.deepEqual(
          c.statuses.filter((s) => s.state === 'stalled'),
          [],
          'the helper kept counting; Weir was the one not reading',
        );
      } finally {
        c.ac.abort();
      }
      const s = await c.done;
      assert.equal(s.error, null, 'stopped as asked');
    });
  },
);

test(
  'weir-capture: SIGKILL (it can say nothing) is an early stop whose reason names SIGKILL, not its last counters line',
  { skip, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      const c = await watched(ns);
      await sleep(1200); // a running counters line is the helper's last word
      process.kill(c.pid, 'SIGKILL');
      // No frame came: the run fails outright, with the reason.
      await assert.rejects(c.done, /^Error: weir-capture on lo failed: killed by SIGKILL$/);
      assert.equal(c.statuses.at(-1)!.state, 'stopped');
      assert.equal(c.statuses.at(-1)!.reason, 'killed by SIGKILL');
    });
  },
);

test('why a capture program stopped: the signal, else its last line that is no counters, else the exit code', () => {
  const running =
    'weir-capture: listening on lo, link-type EN10MB, timeout 100 ms, as uid 106 gid 109\n' +
    'weir-capture: counters captured=3 received=3 dropped=0 ifdropped=0\n';
  assert.equal(stopReason(running, null, 'SIGKILL'), 'killed by SIGKILL');
  assert.equal(
    stopReason(running, null, 'SIGSYS'),
    'killed by SIGSYS: a system call outside its allow-list (seccomp confinement)',
  );
  assert.equal(stopReason(running, 1, null), 'exit 1');
  assert.equal(
    stopReason(
      running + 'weir-capture: lo: The interface went down\n3 packets captured\n',
      1,
      null,
    ),
    'weir-capture: lo: The interface went down',
  );
  assert.equal(
    stopReason(
      'tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n' +
        'tcpdump: 5 packets captured, 6 packets received by filter, 0 packets dropped by kernel\n' +
        '5 packets captured\n6 packets received by filter\n0 packets dropped by kernel\n',
      0,
      null,
    ),
    'exited (code 0) without being asked to stop',
  );
});

test(
  "weir-capture's 64-bit totals across the kernel's 32-bit counter wrap, and its number options checked",
  { skip: helper ? false : 'weir-capture not built', timeout: 30_000 },
  () => {
    const wrap = (...readings: string[]) =>
      spawnSync(helper!, ['--self-test-wrap', ...readings], { encoding: 'utf8' }).stdout.trim();
    assert.equal(wrap('4294967290', '5'), '4294967301');
    assert.equal(wrap('10', '20', '20', '4294967295', '0'), '4294967296');
    assert.equal(wrap('100'), '100');
    for (const bad of [
      ['-B', '0'],
      ['-B', '12abc'],
      ['-s', '-1'],
      ['-t', '99999999999'],
      ['-S', 'x'],
    ]) {
      const r = spawnSync(helper!, ['-i', 'lo', ...bad], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /weir-capture: -[BstS] \(.*\) ".*": not a number from/);
    }
  },
);

test(
  'weir detect --interface: a frozen capture is warned of and its recovery said; a SIGTERM from another process of the capture user ends the run as failed, never as a normal end',
  { skip: skipOwn, timeout: 90_000 },
  async () => {
    await withLearnedStore(async (db) => {
      await inNamespace(async (ns) => {
        const run = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            process.execPath,
            cli,
            'detect',
            '--interface',
            'lo',
            '--baseline',
            db,
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        run.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        const exited = new Promise<number | null>((r) => run.on('close', r));
        for (let i = 0; i < 100 && pidsIn(ns).length < 2; i++) await sleep(100); // Weir and its helper
        const pids = pidsIn(ns).map(Number);
        // Listening (it has given up its capabilities right before saying so), then one counters line.
        const helperPid = Number(await captureListening(ns));
        assert.ok(
          readFileSync(`/proc/${helperPid}/cmdline`, 'utf8').startsWith(helper!),
          `the helper among ${pids.join(' ')}`,
        );
        await sleep(1500);
        process.kill(helperPid, 'SIGSTOP');
        // Stalled 3 s after its last counters line (10 s had it been frozen before it said it listens).
        for (let i = 0; i < 150 && !/capture stalled/.test(stderr); i++) await sleep(100);
        assert.match(
          stderr,
          /weir: live:lo: warning: capture stalled: no counters from weir-capture for \d+ s/,
        );
        process.kill(helperPid, 'SIGCONT');
        for (let i = 0; i < 30 && !/running again/.test(stderr); i++) await sleep(100);
        assert.match(stderr, /weir: live:lo: capture running again after \d+ s stalled/);
        killAs(helperPid, 'TERM');
        const code = await exited;
        assert.notEqual(code, 0, stderr);
        assert.match(stderr, /stopped by signal 15 from pid \d+ uid \d+/, stderr);
      });
    });
  },
);

test(
  'weir-capture confines itself once listening (seccomp): it keeps capturing and counting, and a forbidden system call (opening a file) kills it, an early stop with its reason',
  { skip: skipOwn, timeout: 60_000 },
  async () => {
    // Run straight: it says it is confined, captures and counts; -X makes it try, at its first counters tick,
    // what an exploit would: open a file, write a frame to the packet socket (its fd number with high bits
    // set, which the kernel cuts to the socket's), join a fanout group. Its allow-list answers each with SIGSYS.
    for (const what of ['open', 'write-socket', 'fanout'])
      await inNamespace(async (ns) => {
        const direct = spawn(
          'ip',
          [
            'netns',
            'exec',
            ns,
            helper!,
            '-X',
            what,
            '-i',
            'lo',
            '-Z',
            'weir-capture',
            '-S',
            '1',
            'udp',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let said = '';
        let pcapBytes = 0;
        direct.stderr.on('data', (b: Buffer) => (said += b.toString()));
        direct.stdout.on('data', (b: Buffer) => (pcapBytes += b.length));
        const ended = await new Promise<[number | null, NodeJS.Signals | null]>((r) =>
          direct.on('close', (code, signal) => r([code, signal])),
        );
        assert.deepEqual(ended, [null, 'SIGSYS'], `${what}: ${said}`);
        assert.match(said, /^weir-capture: listening on lo, .*, confined to its system calls\n/);
        assert.equal(pcapBytes, 24, 'the pcap file header was written before');
        assert.deepEqual(pidsIn(ns), []);
      });
    // Through Weir: a wrapper with -X open stands in for the helper. The stop is early, with why.
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-seccomp-'));
    const wrapper = path.join(dir, 'weir-capture');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${JSON.stringify(helper)} -X open "$@"\n`, {
      mode: 0o755,
    });
    const saved = process.env.WEIR_CAPTURE_HELPER;
    process.env.WEIR_CAPTURE_HELPER = wrapper;
    try {
      await inNamespace(async (ns) => {
        const statuses: CaptureStatus[] = [];
        const run = liveCapture('lo', () => {}, {
          netns: ns,
          bpf: 'udp',
          helper: 'weir-capture',
          onStatus: (c) => statuses.push(c),
        });
        const why = 'killed by SIGSYS: a system call outside its allow-list (seccomp confinement)';
        await assert.rejects(
          run,
          new RegExp(`weir-capture on lo failed: ${why.replace(/[()]/g, '\\$&')}$`),
        );
        assert.equal(statuses.at(-1)!.state, 'stopped');
        assert.equal(statuses.at(-1)!.reason, why);
        assert.deepEqual(pidsIn(ns), []);
      });
    } finally {
      if (saved === undefined) delete process.env.WEIR_CAPTURE_HELPER;
      else process.env.WEIR_CAPTURE_HELPER = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'weir-capture confined: a link that goes down and comes back (a SPAN cable flap) does not kill it; it captures on',
  { skip: skipOwn, timeout: 60_000 },
  async () => {
    await inNamespace(async (ns) => {
      execFileSync('ip', ['-n', ns, 'link', 'add', 'cap0', 'type', 'veth', 'peer', 'name', 'gen0']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'cap0', 'up']);
      execFileSync('ip', ['-n', ns, 'link', 'set', 'gen0', 'up']);
      execFileSync('ip', ['-n', ns, 'addr', 'add', '10.99.0.2/24', 'dev', 'gen0']);
      const ac = new AbortController();
      let frames = 0;
      const done = liveCapture('cap0', () => frames++, {
        netns: ns,
        helper: 'weir-capture',
        signal: ac.signal,
      });
      await helperPid(ns);
      await sleep(500);
      // While it is down libpcap polls the interface's flags (ioctl) and the socket's address: allowed.
      execFileSync('ip', ['-n', ns, 'link', 'set', 'cap0', 'down']);
      await sleep(2500); // counters ticks and the poll loop, all while down
      execFileSync('ip', ['-n', ns, 'link', 'set', 'cap0', 'up']);
      await sleep(500);
      const js = `require('dgram').createSocket('udp4').send('weir',47400,'10.99.0.9',(e,)=>process.exit(0))`;
      for (let i = 0; i < 40 && frames === 0; i++) {
        if (i % 10 === 0) execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]);
        await sleep(100);
      }
      assert.ok(frames > 0, 'frames after the link came back');
      ac.abort();
      const s = await done;
      assert.equal(s.error, null, JSON.stringify(s.error));
      assert.deepEqual(pidsIn(ns), []);
    });
  },
);
