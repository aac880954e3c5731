import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  captureCommand,
  type CaptureStatus,
  findCaptureHelper,
  helperArgs,
  liveCapture,
  type CaptureHelper,
} from '../../src/capture/live.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { canBuildLab } from '../lab/plant.js';
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
      await sleep(1000); // the helper opens the interface
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
      await sleep(1000);
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
      await sleep(1000);
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

const nobody = execFileSync('id', ['-u', 'nobody']).toString().trim();
const nogroup = execFileSync('id', ['-g', 'nobody']).toString().trim();

test(
  'weir-capture started as root gives root up once the interface is open: no root uid or gid, no groups, no capabilities, and frames still arrive',
  { skip, timeout: 60_000 },
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
          user: 'nobody',
          onStatus: (c) => statuses.push(c),
        },
      );
      const pid = await helperPid(ns);
      await sleep(500); // past pcap_activate and the filter: the drop comes right after them
      const cred = credentials(pid);
      assert.deepEqual(
        cred.Uid!.split(/\s+/),
        [nobody, nobody, nobody, nobody],
        'real, effective, saved, fs uid',
      );
      assert.deepEqual(cred.Gid!.split(/\s+/), [nogroup, nogroup, nogroup, nogroup]);
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
      assert.deepEqual(statuses[0], { program: 'weir-capture', counters: null });
      const running = statuses.slice(1, -1);
      assert.ok(running.length >= 1, `counters while running: ${JSON.stringify(statuses)}`);
      assert.equal(running.at(-1)!.counters!.captured, 2);
      assert.deepEqual(statuses.at(-1), { program: 'weir-capture', counters: s.counters });
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
          'udp',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let bytes = 0;
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (bytes += b.length));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const closed = new Promise<number | null>((r) => child.on('close', r));
      const pid = await helperPid(ns);
      await sleep(500);
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
      assert.deepEqual(
        statuses,
        [{ program: 'weir-capture', counters: null }],
        'never listened, never counted',
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
      await helperPid(ns);
      await sleep(500);
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

test(
  'weir detect --interface: the interface going away is said on stderr with its reason, and the run exits 4 (incomplete)',
  { skip, timeout: 90_000 },
  async () => {
    const cli = path.join(repoRoot, 'dist/src/cli/main.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-lh-'));
    const db = path.join(dir, 'weir.db');
    try {
      execFileSync(
        process.execPath,
        [cli, 'learn', path.join(repoRoot, 'fixtures/plant.pcap'), '--db', db, '--create'],
        { stdio: 'ignore' },
      );
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
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('the capture program: weir-capture when built, tcpdump when asked for or when it is missing', () => {
  assert.deepEqual(helperArgs('eth1', { bpf: 'tcp  port 502', immediate: true }), [
    '-i',
    'eth1',
    '-Z',
    'nobody',
    '-s',
    '0',
    '-B',
    '32768',
    '-t',
    '100',
    '-S',
    '1',
    '-I',
    'tcp',
    'port',
    '502',
  ]);
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
