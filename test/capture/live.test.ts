import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  STARTING_STALL_AFTER_S,
  liveCapture,
  parseCountersLine,
  parseTcpdumpCounters,
  type CaptureStatus,
} from '../../src/capture/live.js';
import { decodeFrame } from '../../src/dissect/link.js';
import { newPacket } from '../../src/dissect/packet.js';
import { canBuildLab } from '../lab/plant.js';

const skip = !canBuildLab() && process.env.CI !== 'true' ? 'needs root and iproute2' : false;

test(
  'live capture through tcpdump delivers frames as they happen, inside a namespace of our own',
  { skip, timeout: 60_000 },
  async () => {
    const ns = `weir-live-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const ac = new AbortController();
      const ports: number[] = [];
      const pkt = newPacket();
      const done = liveCapture(
        'lo',
        (f) => {
          decodeFrame(f, pkt);
          if (pkt.ipProto === 17 && pkt.dstPort >= 47000 && pkt.dstPort < 47010)
            ports.push(pkt.dstPort);
          if (ports.length >= 5) ac.abort();
        },
        { netns: ns, bpf: 'udp', signal: ac.signal, helper: 'tcpdump' },
      );
      // Give tcpdump a moment to open the interface, then send datagrams to the namespace's own loopback.
      const sender =
        "const d=require('dgram').createSocket('udp4');let i=0;const t=setInterval(()=>{d.send('weir',47000+(i%5),'127.0.0.1');if(++i>=40){clearInterval(t);d.close();}},100);";
      await new Promise((r) => setTimeout(r, 1000));
      // tcpdump too gives root up once the interface is open (-Z from capture.user, default weir-capture).
      const [pid] = execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/);
      const uid = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
      const own = execFileSync('id', ['-u', 'weir-capture']).toString().trim();
      assert.deepEqual(uid.split(/\s+/), [own, own, own, own]);
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', sender]);
      const timer = setTimeout(() => ac.abort(), 10_000);
      const summary = await done;
      clearTimeout(timer);
      assert.ok(summary.frames >= 5, `${summary.frames} frames`);
      assert.deepEqual([...new Set(ports)].sort(), [47000, 47001, 47002, 47003, 47004]);
      // tcpdump's own counters come back with the summary: every packet it captured reached the parser
      // (the parser may have stopped reading once we aborted), none dropped by the kernel at this rate.
      assert.ok(summary.counters, 'tcpdump printed its statistics');
      assert.ok(summary.counters.captured >= summary.frames, JSON.stringify(summary.counters));
      assert.ok(summary.counters.receivedByFilter >= summary.counters.captured);
      assert.equal(summary.counters.droppedByKernel, 0);
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  },
);

test("tcpdump's closing statistics are read into counters, and missing ones give null", () => {
  // What tcpdump 4.99 prints on stderr when it stops (after its "listening on" line).
  const stderr =
    'tcpdump: listening on wr1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n' +
    '728135 packets captured\n1000000 packets received by filter\n271865 packets dropped by kernel\n';
  assert.deepEqual(parseTcpdumpCounters(stderr), {
    captured: 728135,
    receivedByFilter: 1000000,
    droppedByKernel: 271865,
    droppedByInterface: 0,
  });
  assert.equal(
    parseTcpdumpCounters(`${stderr}12 packets dropped by interface\n`)?.droppedByInterface,
    12,
  );
  assert.deepEqual(
    parseTcpdumpCounters(
      '1 packet captured\n1 packet received by filter\n0 packets dropped by kernel\n',
    ),
    { captured: 1, receivedByFilter: 1, droppedByKernel: 0, droppedByInterface: 0 },
  );
  assert.equal(parseTcpdumpCounters('tcpdump: wr9: No such device exists\n'), null);
  // weir-capture's running counters (it prints them every second while capturing).
  assert.deepEqual(
    parseCountersLine('weir-capture: counters captured=5 received=7 dropped=2 ifdropped=1'),
    { captured: 5, receivedByFilter: 7, droppedByKernel: 2, droppedByInterface: 1 },
  );
  assert.equal(parseCountersLine('weir-capture: listening on lo'), null);
  // tcpdump's running line (on SIGUSR1), with and without interface drops.
  assert.deepEqual(
    parseCountersLine(
      'tcpdump: 1 packet captured, 2 packets received by filter, 0 packets dropped by kernel',
    ),
    { captured: 1, receivedByFilter: 2, droppedByKernel: 0, droppedByInterface: 0 },
  );
  assert.deepEqual(
    parseCountersLine(
      'tcpdump: 5 packets captured, 9 packets received by filter, 3 packets dropped by kernel, 1 packet dropped by interface',
    ),
    { captured: 5, receivedByFilter: 9, droppedByKernel: 3, droppedByInterface: 1 },
  );
  // Running lines before the closing statistics: the closing ones count.
  assert.deepEqual(
    parseTcpdumpCounters(
      'tcpdump: 0 packets captured, 2 packets received by filter, 0 packets dropped by kernel\n' +
        '1 packet captured\n2 packets received by filter\n0 packets dropped by kernel\n',
    ),
    { captured: 1, receivedByFilter: 2, droppedByKernel: 0, droppedByInterface: 0 },
  );
});

test(
  'the tcpdump fallback reports its counters while it runs too (asked with SIGUSR1 once it listens)',
  { skip, timeout: 60_000 },
  async () => {
    const ns = `weir-live-c-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const ac = new AbortController();
      const statuses: CaptureStatus[] = [];
      const done = liveCapture('lo', () => {}, {
        netns: ns,
        bpf: 'udp',
        signal: ac.signal,
        helper: 'tcpdump',
        onStatus: (c) => statuses.push(c),
      });
      await new Promise((r) => setTimeout(r, 1000));
      const sender =
        "const d=require('dgram').createSocket('udp4');let i=0;const f=()=>{if(i++>=5){d.close();return;}d.send('weir',47020,'127.0.0.1',()=>setTimeout(f,20));};f();";
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', sender]);
      await new Promise((r) => setTimeout(r, 2500));
      ac.abort();
      const s = await done;
      assert.deepEqual(statuses[0], { program: 'tcpdump', counters: null, state: 'running' });
      const running = statuses.slice(1, -1);
      assert.ok(running.length >= 2, JSON.stringify(statuses));
      assert.ok(running.every((r) => r.program === 'tcpdump' && r.counters !== null));
      assert.ok(running.at(-1)!.counters!.receivedByFilter >= 5, JSON.stringify(running));
      assert.deepEqual(statuses.at(-1), {
        program: 'tcpdump',
        counters: s.counters,
        state: 'stopped',
      });
      assert.equal(s.counters?.captured, 5, JSON.stringify(statuses));
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  },
);

test(
  'a capture program that starts but never starts listening (stuck opening the interface) is shown stalled, not running',
  { timeout: 60_000 },
  async () => {
    // The fault: a program in weir-capture's place that never gets as far as listening. Nothing real hangs on
    // demand in pcap_activate, so a stand-in that only sleeps takes its place (no traffic, no namespace needed).
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-stuck-'));
    const stuck = path.join(dir, 'weir-capture');
    writeFileSync(stuck, '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
    const was = process.env.WEIR_CAPTURE_HELPER;
    process.env.WEIR_CAPTURE_HELPER = stuck;
    try {
      const ac = new AbortController();
      const statuses: CaptureStatus[] = [];
      const t0 = Date.now();
      const done = liveCapture('lo', () => {}, {
        signal: ac.signal,
        helper: 'weir-capture',
        onStatus: (c) => statuses.push(c),
      });
      for (let i = 0; i < 200 && !statuses.some((s) => s.state === 'stalled'); i++)
        await new Promise((r) => setTimeout(r, 100));
      const stalled = statuses.find((s) => s.state === 'stalled');
      assert.ok(stalled, JSON.stringify(statuses));
      const after = (Date.now() - t0) / 1000;
      assert.ok(after >= STARTING_STALL_AFTER_S - 0.5, `stalled after ${after.toFixed(1)} s`);
      assert.match(stalled.reason!, /weir-capture has not started listening after \d+ s/);
      ac.abort();
      const s = await done;
      assert.equal(s.frames, 0);
    } finally {
      if (was === undefined) delete process.env.WEIR_CAPTURE_HELPER;
      else process.env.WEIR_CAPTURE_HELPER = was;
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
