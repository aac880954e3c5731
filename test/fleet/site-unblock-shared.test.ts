// A site's person lifts a block that another origin (the manager, another site) also holds. Before, the site
// lifted it in its own kernel at once, the manager refused the record and counted it against the site, and the
// address was blocked again only at the next blocklist version. Now the site keeps the kernel entry while any
// other origin's entry is live, lifts only its own record, and is not counted as misbehaving.
// Real nats-server, manager and two site nodes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { rmSync } from 'node:fs';
import { addSite, openHome, readSiteKit } from '../../src/fleet/home.js';
import { NodeRuntime } from '../../src/fleet/node-runtime.js';
import { readRejects } from '../../src/fleet/aggregate-store.js';
import type { Blocklist } from '../../src/fleet/manager.js';
import { freePort, MemoryBackend, tempDir, until } from './fleet-kit.js';
import { startManager } from './hub-kit.js';

const dir = tempDir('fleet-shared-unblock');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test("a site's unblock of an address others also block lifts only its own entry and keeps the kernel's", async () => {
  const mdir = path.join(dir, 'manager');
  const home = openHome(mdir);
  for (const s of ['a', 'b']) addSite(home, s);
  const { mgr, leafPort } = await startManager(mdir, stops);
  const sites: Record<string, { rt: NodeRuntime; local: MemoryBackend }> = {};
  for (const s of ['a', 'b']) {
    const local = new MemoryBackend();
    const rt = await NodeRuntime.start({
      kit: readSiteKit(s, path.join(mdir, 'sites', s)),
      dir: tempDir(`shared-unblock-${s}`),
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

  // The manager blocks .9 and .11 for a day; site a blocks .9 for 10 min, and .12 alone.
  for (const address of ['10.66.0.9', '10.66.0.11'])
    await mgr.manager.block({ address, ttlSeconds: 86400, comment: 'attacker' }, 'manager:root');
  await a.rt.backend.block('10.66.0.9', 600, 'contain at a');
  await a.rt.backend.block('10.66.0.12', 600, 'contain at a');
  await until('a sees every block', () => {
    const e = (a.rt.follower.applied('blocklist')?.body as Blocklist | undefined)?.entries ?? [];
    return e.some((x) => x.origin === 'a' && x.address === '10.66.0.9') && e.length === 4;
  });
  await until('b sees them too', () => has('10.66.0.9', 'a') && has('10.66.0.12', 'a'));
  const managers = entries().find((e) => e.address === '10.66.0.9' && e.origin === 'manager:root')!;

  // a's person lifts .9 (a's own block, the manager's too) and .11 (the manager's only).
  const lifted = await a.rt.backend.unblock('10.66.0.9', 'false alarm at a');
  assert.ok(a.local.blocks.has('10.66.0.9'), "a's kernel keeps .9: the manager still blocks it");
  assert.deepEqual(lifted.keptBy, ['manager:root']);
  const kept = await a.rt.backend.unblock('10.66.0.11', 'not ours either');
  assert.ok(a.local.blocks.has('10.66.0.11'), "a's kernel keeps .11");
  assert.deepEqual(kept.keptBy, ['manager:root']);
  // Its own block alone is lifted in its kernel at once, and fleet-wide.
  const own = await a.rt.backend.unblock('10.66.0.12', 'done');
  assert.equal(own.keptBy, undefined);
  assert.ok(!a.local.blocks.has('10.66.0.12'));

  await until(
    'a lifted its own entries fleet-wide',
    () => !has('10.66.0.9', 'a') && !has('10.66.0.12', 'a'),
  );
  assert.ok(has('10.66.0.9', 'manager:root') && has('10.66.0.11', 'manager:root'));
  // A last record from a: once it is in the blocklist, every record before it has been judged.
  await a.rt.backend.block('10.66.0.13', 60, 'marker');
  await until('the marker reached b', () => has('10.66.0.13', 'a'));
  assert.deepEqual(
    readRejects(mgr.db).filter((r) => r.site === 'a'),
    [],
    'an honest unblock is not counted against the site',
  );
  await until(
    "a's kernel holds the manager's time for .9",
    () => Math.abs((a.local.blocks.get('10.66.0.9') ?? 0) - managers.until) <= 1,
  );
  assert.ok(a.local.blocks.has('10.66.0.11') && b.local.blocks.has('10.66.0.9'));
});

// Review 12b, B3: the manager's entry for an address this site's baseline guard refused is in no kernel here, so
// it keeps nothing here. Before, the site's unblock counted it ("still blocked here by manager:root") and left
// its own kernel entry in place until the next blocklist version, or the TTL while cut off from the manager.
test("a site's unblock is not kept by another origin's entry that this site refused", async () => {
  const mdir = path.join(dir, 'manager-refused');
  addSite(openHome(mdir), 'c');
  const { mgr, leafPort } = await startManager(mdir, stops);
  const PLC = '10.66.1.21';
  const local = new MemoryBackend();
  const refusedHere: string[] = [];
  const rt = await NodeRuntime.start({
    kit: readSiteKit('c', path.join(mdir, 'sites', 'c')),
    dir: tempDir('shared-unblock-c'),
    client: { host: '127.0.0.1', port: await freePort() },
    hubUrls: [`nats-leaf://127.0.0.1:${leafPort}`],
    local,
    // At site c the address is a PLC of its baseline.
    refuseBlock: (address) => {
      if (address !== PLC) return null;
      refusedHere.push(address);
      return 'a device of this site baseline';
    },
    log: () => undefined,
  });
  stops.push(() => rt.stop());
  const entries = (): Blocklist['entries'] =>
    (rt.follower.applied('blocklist')?.body as Blocklist | undefined)?.entries ?? [];

  await mgr.manager.block(
    { address: PLC, ttlSeconds: 86400, comment: 'attacker elsewhere' },
    'manager:root',
  );
  await until(
    'c refused the manager entry',
    () => refusedHere.length > 0 && entries().length === 1,
  );
  assert.ok(!local.blocks.has(PLC), "c's guard kept the manager's block off");
  // c's own person blocks it anyway (`weir block --confirm-cuts-baseline`): c's entry is what holds the kernel.
  await rt.backend.block(PLC, 600, 'contain at c');
  await until('c sees its own entry', () => entries().some((e) => e.origin === 'c'));
  assert.ok(local.blocks.has(PLC));

  const r = await rt.backend.unblock(PLC, 'released at c');
  assert.equal(r.keptBy, undefined, 'the refused manager entry keeps nothing here');
  assert.ok(!local.blocks.has(PLC), "c's kernel entry is lifted at once");
  await until('the lift is fleet-wide', () => !entries().some((e) => e.origin === 'c'));
  assert.ok(!local.blocks.has(PLC), 'and stays lifted');
});
