import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { between, Stages, type Stage } from '../../src/dissect/stage.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { flushEvery, runCaptures } from '../../src/cli/run-capture.js';
import { repoRoot } from '../helpers/paths.js';

const plant = path.join(repoRoot, 'fixtures/plant.pcap');

/** Records what it was fed, tagged with its name, into one shared log (to check the order across stages). */
function recorder(name: string, log: string[]): Stage & { packets: number; messages: number } {
  return {
    packets: 0,
    messages: 0,
    onPacket(p) {
      this.packets++;
      if (log.length < 40) log.push(`${name}:p${p.frame}`);
    },
    onMessage(m) {
      this.messages++;
      if (log.length < 40) log.push(`${name}:m${m.frame}`);
    },
    finish() {
      log.push(`${name}:finish`);
    },
  };
}

test('every stage sees every packet and message, in the order listed, packets before their messages', () => {
  const log: string[] = [];
  const a = recorder('a', log);
  const b = recorder('b', log);
  const onlyMessages: Stage = { onMessage: () => undefined };
  const p = new DissectPipeline([a, onlyMessages, b]);
  readCaptureSync(plant, (f) => p.push(f));
  assert.ok(a.packets > 100 && a.messages > 100);
  assert.equal(b.packets, a.packets);
  assert.equal(b.messages, a.messages);
  assert.equal(a.messages, p.stats.messages);
  assert.deepEqual(log.slice(0, 4), ['a:p1', 'b:p1', 'a:p2', 'b:p2']);
  const firstMsg = log.findIndex((l) => l.includes(':m'));
  const frame = log[firstMsg]!.split(':m')[1];
  assert.equal(
    log[firstMsg - 1],
    `b:p${frame}`,
    'a packet reaches every stage before its messages',
  );
  assert.equal(log[firstMsg + 1], `b:m${frame}`);
});

test('a nested fan-out is opened up; between() passes only its time slice on', () => {
  const log: string[] = [];
  const all = recorder('all', log);
  const early = recorder('early', []);
  let first = Infinity,
    last = -Infinity;
  readCaptureSync(plant, (f) => {
    first = Math.min(first, f.ts);
    last = Math.max(last, f.ts);
  });
  const mid = (first + last) / 2;
  const p = new DissectPipeline(new Stages([new Stages([all]), between(-Infinity, mid, early)]));
  assert.equal(p.stages.list.length, 2);
  readCaptureSync(plant, (f) => p.push(f));
  assert.ok(early.packets > 0 && early.packets < all.packets);
  assert.ok(early.messages > 0 && early.messages < all.messages);
});

test('a capture run finishes each stage once, after the last file', async () => {
  const log: string[] = [];
  const a = recorder('a', log);
  await runCaptures([plant, plant], [a, between(0, Infinity, recorder('b', log))], {
    progress: false,
  });
  assert.deepEqual(
    log.filter((l) => l.endsWith('finish')),
    ['a:finish', 'b:finish'],
  );
});

test('a live run flushes the stages that have a flush on its interval, never two at once, and stops', async () => {
  let flushes = 0,
    running = 0,
    overlapped = false;
  const exporter: Stage = {
    onMessage: () => undefined,
    async flush() {
      running++;
      if (running > 1) overlapped = true;
      flushes++;
      await new Promise((r) => setTimeout(r, 15));
      running--;
    },
  };
  const f = flushEvery(new Stages([{ onPacket: () => undefined }, exporter]), 5);
  await new Promise((r) => setTimeout(r, 80));
  await f.stop();
  assert.equal(running, 0, 'stop waits for the flush under way');
  const seen = flushes;
  assert.ok(seen >= 2, `flushed ${seen} times`);
  assert.equal(overlapped, false);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(flushes, seen, 'no flush after stop');
  // Without a stage that flushes, or without an interval, nothing is scheduled.
  await flushEvery(new Stages([{ onPacket: () => undefined }]), 5).stop();
  await flushEvery(new Stages([exporter]), undefined).stop();
});
