import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  captureCommand,
  findCaptureHelper,
  helperArgs,
  liveCapture,
  type CaptureHelper,
} from '../../src/capture/live.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { canBuildLab } from '../lab/plant.js';

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

test('the capture program: weir-capture when built, tcpdump when asked for or when it is missing', () => {
  assert.deepEqual(helperArgs('eth1', { bpf: 'tcp  port 502', immediate: true }), [
    '-i',
    'eth1',
    '-s',
    '0',
    '-B',
    '32768',
    '-t',
    '100',
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
