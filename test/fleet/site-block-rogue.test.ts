// A site's node is taken over: the attacker writes 'block' records into its outbox by hand. The manager must
// not let one site lift a block the manager or another site placed, shorten it, or write into the signed
// blocklist an entry that is not a host address or that lasts longer than a fleet block may: such records are
// refused (counted against the site on the sites page) and every other site keeps what it had. A site still
// lifts its own blocks, and the manager's operator lifts any. Real nats-server, manager and two site nodes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { readRejects, type Rejects } from '../../src/fleet/aggregate-store.js';
import { FLEET_BLOCK_MAX_S } from '../../src/fleet/block-request.js';
import type { Blocklist } from '../../src/fleet/manager.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-rogue-block');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('a rogue site can neither lift nor shorten blocks it did not place, nor write garbage into the blocklist', async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const { mgr, leafPort } = await startManager(mdir, stops);
  const sites: Record<string, { rt: NodeRuntime; local: MemoryBackend }> = {};
  for (const s of ['a', 'b']) {
    const local = new MemoryBackend();
    const rt = await NodeRuntime.start({
      kit: readSiteKit(s, path.join(mdir, 'sites', s)),
      dir: tempDir(`rogue-site-${s}`),
      client: { host: '127.0.0.1', port: await freePort() },
      hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
      local,
      log: () => undefined,
    });
    stops.push(() => rt.stop());
    sites[s] = { rt, local };
  }
  const a = sites.a!,
    b = sites.b!;
  const entries = (): Blocklist['entries'] =>
    (b.rt.follower.applied('blocklist')?.body as Blocklist | undefined)?.entries ?? [];
  const has = (address: string, origin: string): boolean =>
    entries().some((e) => e.address === address && e.origin === origin);

  await mgr.manager.block(
    { address: '10.66.0.9', ttlSeconds: 600, comment: 'attacker' },
    'manager',
  );
  await b.rt.backend.block('10.66.0.10', 600, 'contain-scans at b');
  await until('b has both blocks', () => has('10.66.0.9', 'manager') && has('10.66.0.10', 'b'));
  const managers = entries().find((e) => e.origin === 'manager')!;

  // Site a, taken over: lift both, shorten the manager's, then entries no site should ever apply.
  const rogue: unknown[] = [
    { address: '10.66.0.9', ttlSeconds: 0, comment: 'x', unblock: true },
    { address: '10.66.0.10', ttlSeconds: 0, comment: 'x', unblock: true },
    { address: '10.77.0.1', ttlSeconds: 1e12, comment: 'forever' },
    { address: 'garbage', ttlSeconds: 'NaN', comment: 'x' },
    { address: '10.77.0.2', ttlSeconds: 600.5, comment: 'x' },
    { address: '10.77.0.3', ttlSeconds: FLEET_BLOCK_MAX_S + 1, comment: 'x' },
    { address: '224.0.0.1', ttlSeconds: 600, comment: 'all hosts' },
    { address: '10.77.0.4', ttlSeconds: 600, comment: 'x'.repeat(10_000) },
    { address: '10.77.0.5', ttlSeconds: 600, comment: { not: 'a string' } },
    null,
  ];
  for (const body of rogue) a.rt.outbox.add('block', body as never);
  // A block of its own on the manager's address adds a's entry beside it, and a valid one last: once it is in
  // the blocklist, everything before it from a has been judged.
  a.rt.outbox.add('block', { address: '10.66.0.9', ttlSeconds: 60, comment: 'a too' });
  a.rt.outbox.add('block', { address: '10.77.0.9', ttlSeconds: 600, comment: 'last' });
  await until("a's last block reached b", () => has('10.77.0.9', 'a'), 30_000);

  assert.deepEqual(
    entries()
      .map((e) => `${e.address} ${e.origin}`)
      .sort(),
    ['10.66.0.10 b', '10.66.0.9 a', '10.66.0.9 manager', '10.77.0.9 a'],
  );
  assert.equal(
    entries().find((e) => e.origin === 'manager')!.until,
    managers.until,
    "the manager's block keeps its time",
  );
  assert.ok(
    Math.abs(b.local.blocks.get('10.66.0.9')! - managers.until) <= 1,
    "b's kernel holds the manager's time, not a's shorter entry applied after it",
  );
  assert.ok(b.local.blocks.has('10.66.0.10'));
  assert.ok(!b.local.blocks.has('10.77.0.1') && !b.local.blocks.has('garbage'));
  // (The batch's refusals are committed once its blocks are published.)
  const refused = (): Rejects[] =>
    readRejects(mgr.db).filter((r) => r.site === 'a' && r.kind === 'block');
  await until(
    'each rogue record refused',
    () => refused().reduce((n, r) => n + r.n, 0) >= rogue.length,
  );
  assert.equal(
    refused().reduce((n, r) => n + r.n, 0),
    rogue.length,
    JSON.stringify(refused()),
  );
  assert.ok(refused().some((r) => /only its own blocks/.test(r.reason)));

  // A site lifts its own; the manager's operator lifts anyone's.
  a.rt.outbox.add('block', { address: '10.77.0.9', ttlSeconds: 0, comment: 'done', unblock: true });
  await until('a lifted its own block', () => !has('10.77.0.9', 'a'), 30_000);
  await mgr.manager.unblock('10.66.0.10', 'manager:root');
  await until("the manager lifted b's block", () => !has('10.66.0.10', 'b'));
  await until('b lifted it in its kernel', () => !b.local.blocks.has('10.66.0.10'));
});
