// The dashboard shows which program captures a live sensor's traffic (weir-capture, or the tcpdump fallback that
// costs ~2.6x the CPU per frame) and what it lost (dropped by the kernel, by the interface): over /api/live and
// on the page, from a real capture in a namespace of the test's own, as `weir serve --interface` wires it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { LiveFeed, type LiveEvent } from '../../src/server/live.js';
import { Ingest } from '../../src/server/ingest.js';
import { runLive } from '../../src/cli/run-capture.js';
import { findCaptureHelper } from '../../src/capture/live.js';
import { addUsers, freshStore, login, PASSWORD } from './fixture.js';
import { haveChromium, logIn, openDashboard } from '../helpers/browser.js';
import { canBuildLab } from '../lab/plant.js';

const needsLab =
  process.env.CI === 'true'
    ? false
    : !canBuildLab()
      ? 'needs root and iproute2'
      : !findCaptureHelper()
        ? 'weir-capture not built (scripts/build-capture-helper.sh)'
        : false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Stats = Extract<LiveEvent, { type: 'stats' }>;

/** The next stats event over /api/live that satisfies `ok`. */
function statsOverApi(url: string, cookie: string, ok: (s: Stats) => boolean): Promise<Stats> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/api/live`, {
      headers: { origin: url, cookie },
    });
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error('no such stats event within 15 s'));
    }, 15_000);
    ws.on('message', (m: Buffer) => {
      const e = JSON.parse(m.toString()) as LiveEvent;
      if (e.type === 'stats' && ok(e)) {
        clearTimeout(timer);
        ws.close();
        resolve(e);
      }
    });
    ws.on('error', reject);
  });
}

test(
  'a live sensor shows its capture program and counters over /api/live and on the dashboard',
  { skip: needsLab, timeout: 90_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const { dir, db } = freshStore('weir-capture-status-');
    await addUsers(db, [['ana', ['analyst']]]);
    const feed = new LiveFeed();
    const dash = await openDashboard(db, dir, { feed });
    const ns = `weir-cs-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const ac = new AbortController();
    const ingest = new Ingest(db, feed, 'live:lo', { flushMs: 200 });
    let run: ReturnType<typeof runLive> | null = null;
    try {
      execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      ingest.start();
      // As `weir serve --interface` does: the capture's status goes to the ingest, which shows it with the stats.
      run = runLive('lo', ingest.stages, {
        bpf: 'udp',
        netns: ns,
        signal: ac.signal,
        onStatus: (c) => ingest.setCapture(c),
      });
      await sleep(1000);
      const js = `const d=require('dgram').createSocket('udp4');let i=0;const f=()=>{if(i++>=20){d.close();return;}d.send('weir',47500,'127.0.0.1',()=>setTimeout(f,10));};f();`;
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', js]);

      const cookie = await login(dash.url, 'ana');
      const s = await statsOverApi(
        dash.url,
        cookie,
        (e) => (e.capture?.counters?.captured ?? 0) >= 20,
      );
      assert.equal(s.capture!.program, 'weir-capture');
      assert.equal(s.capture!.counters!.captured, 20);
      assert.ok(s.capture!.counters!.receivedByFilter >= 20);
      assert.equal(s.capture!.counters!.droppedByKernel, 0);
      assert.equal(s.capture!.counters!.droppedByInterface, 0);

      await logIn(dash.page, dash.url, 'ana', PASSWORD);
      const shown = dash.page.getByTestId('capture');
      await shown.waitFor();
      const text = (await dash.page.getByTestId('live').textContent()) ?? '';
      assert.match(text, /via weir-capture: \d+ received, 0 dropped by kernel, 0 by interface/);
      assert.doesNotMatch(text, /fallback/);
      assert.equal(await shown.getAttribute('class'), null, 'nothing lost: not marked');

      assert.deepEqual(dash.errors, []);
    } finally {
      ac.abort();
      const r = await run?.catch(() => undefined);
      await ingest.finish(null, r);
      execFileSync('ip', ['netns', 'del', ns]);
      await dash.close();
    }
  },
);

test(
  'the dashboard marks the tcpdump fallback and frames lost before Weir saw them, and says why a capture stopped',
  { timeout: 60_000 },
  async (t) => {
    if (!haveChromium(t)) return;
    const { dir, db } = freshStore('weir-capture-lost-');
    await addUsers(db, [['ana', ['analyst']]]);
    const feed = new LiveFeed();
    const dash = await openDashboard(db, dir, { feed });
    const ingest = new Ingest(db, feed, 'live:eth1');
    try {
      ingest.setCapture({
        program: 'tcpdump',
        counters: {
          captured: 900_000,
          receivedByFilter: 1_000_000,
          droppedByKernel: 99_000,
          droppedByInterface: 1_000,
        },
      });
      await ingest.flush();
      await logIn(dash.page, dash.url, 'ana', PASSWORD);
      const shown = dash.page.getByTestId('capture');
      await shown.waitFor();
      assert.equal(
        (await shown.textContent())?.trim(),
        'tcpdump (fallback, more CPU per frame): 1,000,000 received, 99,000 dropped by kernel, 1,000 by interface',
      );
      assert.equal(await shown.getAttribute('class'), 'capture-lost');
      // The interface goes away: the run ends with the helper's reason, and the line says it stopped and why.
      await ingest.finish('weir-capture stopped: eth1: The interface disappeared');
      await dash.page
        .getByText('capture stopped (weir-capture stopped: eth1: The interface disappeared)')
        .waitFor();
      assert.deepEqual(dash.errors, []);
    } finally {
      await ingest.finish(null);
      await dash.close();
    }
  },
);
