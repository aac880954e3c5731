import type { Command } from 'commander';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { activePolicy } from '../../respond/change-control.js';
import { latestBaseline } from '../../store/baseline-store.js';
import { loadInventory } from '../../store/inventory-store.js';
import { DEFAULT_STATE_DIR } from '../../enforce/state.js';
import { planDecoys, type PlannedDecoy } from '../../deceive/plan.js';
import { heldAddresses, placementProblems } from '../../policy/decoy-placement.js';
import { serveDecoy } from '../../deceive/server.js';
import { DecoyHost } from '../../deceive/netns.js';
import { ArpWatch } from '../../deceive/arp-watch.js';
import type { ArpClaim } from '../../deceive/arp-claim.js';
import type { DecoyIdentity } from '../../deceive/identity-model.js';
import type { Db } from '../../store/db.js';
import { openExistingStore, STORE_HINT, withIdentity, type IdentityOpts } from '../identity.js';
import { auditEnforcement, proveEnforcer } from '../enforcer.js';
import { renderColumns } from '../columns.js';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../main.js');

/** The installation's secret that makes decoy placement unpredictable from the policy alone (made once). */
function decoySecret(stateDir: string): string {
  const file = path.join(stateDir, 'decoy-secret');
  if (!existsSync(file)) {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return readFileSync(file, 'utf8').trim();
}

/** What a placement is: the decoys, and what the operator should read about the addresses passed over. */
interface Placement {
  planned: PlannedDecoy[];
  notes: string[];
}

/**
 * The decoys of the active policy at `ts`, refused when any pool address is one the baseline uses; pool
 * addresses a device of the inventory holds, and those in `claimed` (a device answered a probe or claimed one
 * by ARP during this run), are passed over.
 */
function plan(
  db: Db,
  secret: string,
  ts: number,
  bump = 0,
  claimed: ReadonlyMap<string, string> = new Map(),
): Placement {
  const active = activePolicy(db);
  if (active === null)
    throw new Error('no active policy in the store: decoys come from an approved policy');
  const sets = active.policy.decoys ?? [];
  if (!sets.length) throw new Error('the active policy declares no decoys');
  const baseline = latestBaseline(db);
  if (baseline === null) throw new Error('no baseline in the store: run `weir learn` first');
  const problems = placementProblems(sets, baseline);
  if (problems.length) throw new Error(problems.map((p) => p.message).join('\n'));
  const inventory = loadInventory(db);
  const held = heldAddresses(sets, inventory, decoyMacs(db));
  const avoid = new Set([...held.map((h) => h.address), ...claimed.keys()]);
  const planned = planDecoys(active.policy, inventory, baseline, secret, ts, bump, avoid);
  const notes = held.map((h) => h.message);
  for (const [address, mac] of claimed)
    notes.push(
      `${address} is held by ${mac} (it answered or claimed it by ARP): no decoy takes it`,
    );
  for (const set of sets) {
    const n = planned.filter((p) => p.slot.set === set.name).length;
    if (n < set.active)
      notes.push(
        `decoy set '${set.name}' runs ${n} of its ${set.active} decoys: the rest of its pool is held by devices`,
      );
  }
  return { planned, notes };
}

/**
 * Address → the MACs decoys wore there, from the audit log's placements: a decoy's replies put it in the
 * inventory like any device, and its own past must not keep the decoys off an address.
 */
function decoyMacs(db: Db): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const rows = db
    .prepare("SELECT details FROM audit_log WHERE action IN ('decoys.started', 'decoys.rotated')")
    .all() as Array<{ details: string }>;
  for (const r of rows) {
    const d = JSON.parse(r.details) as { decoys?: Array<{ ip?: unknown; mac?: unknown }> };
    for (const x of d.decoys ?? [])
      if (typeof x.ip === 'string' && typeof x.mac === 'string') {
        const macs = out.get(x.ip) ?? new Set<string>();
        macs.add(x.mac);
        out.set(x.ip, macs);
      }
  }
  return out;
}

const summary = (d: DecoyIdentity): Record<string, unknown> => ({
  ip: d.ip,
  mac: d.mac,
  clonedFrom: d.clonedFrom,
  vendor: d.vendor,
  product: d.product,
  serial: d.serial,
  hostname: d.hostname,
  services: d.services.map((s) => `${s}/${d.ports[s]}`),
});

export function registerDecoy(program: Command): void {
  const cmd = program
    .command('decoy')
    .description(
      "the zones' decoys: plan, run on the sensor's interface, and the responder itself",
    );

  cmd
    .command('plan')
    .description(
      'the decoys the active policy places now: address, cloned device, identity, services',
    )
    .requiredOption('--db <db>', 'store')
    .option('--at <iso>', 'at this instant instead of now (shows a rotation ahead of time)')
    .option('--state-dir <dir>', 'where the installation secret lives', DEFAULT_STATE_DIR)
    .option('--json', 'print JSON (full identities)')
    .action((o: { db: string; at?: string; stateDir: string; json?: boolean }) => {
      const db = openExistingStore(o.db, STORE_HINT);
      try {
        const ts = o.at ? Date.parse(o.at) / 1000 : Date.now() / 1000;
        if (!Number.isFinite(ts)) throw new Error(`--at: '${o.at}' is not a time`);
        const { planned: p, notes } = plan(db, decoySecret(o.stateDir), ts);
        for (const n of notes) process.stderr.write(`${n}\n`);
        if (o.json) return void process.stdout.write(`${JSON.stringify(p, null, 2)}\n`);
        process.stdout.write(
          `${renderColumns(
            [
              'set',
              'epoch',
              'address',
              'mac',
              'clone of',
              'vendor / product',
              'serial',
              'services',
            ],
            p.map(({ slot, identity: d }) => [
              slot.set,
              String(slot.epoch),
              d.ip,
              d.mac,
              d.clonedFrom ?? '-',
              `${d.vendor} / ${d.product}`,
              d.serial,
              d.services.map((s) => `${s}/${d.ports[s]}`).join(' '),
            ]),
          )}\n`,
        );
      } finally {
        db.close();
      }
    });

  withIdentity(
    cmd
      .command('run')
      .description(
        "run the active policy's decoys on the sensor's interface (macvlan per decoy in its own namespace), moving them as the policy's rotation says; contacts print as JSON lines",
      )
      .requiredOption('--db <db>', 'store (the active policy, baseline and inventory; audit)')
      .requiredOption('--parent <iface>', 'interface on the zone segment the decoys hang off')
      .option('--state-dir <dir>', 'runtime state (installation secret)', DEFAULT_STATE_DIR)
      .option('--check-every <s>', 'how often to look for a new rotation period (seconds)', '15')
      .option(
        '--netns-prefix <p>',
        "names of the decoys' network namespaces start with this",
        'weir-decoy',
      ),
  ).action(
    async (
      o: IdentityOpts & {
        db: string;
        parent: string;
        stateDir: string;
        checkEvery: string;
        netnsPrefix: string;
      },
    ) => {
      await proveEnforcer(o, 'decoy run');
      const secret = decoySecret(o.stateDir);
      const tag = randomBytes(3).toString('hex');
      const keyOf = (p: PlannedDecoy): string =>
        `${p.slot.set}/${p.slot.epoch}/${p.slot.slot}/${p.identity.ip}`;
      let hosts: Array<{ key: string; p: PlannedDecoy; h: DecoyHost }> = [];
      /** Pool addresses a device holds, found this run (probe answered, ARP claim) → its MAC. */
      const claimed = new Map<string, string>();
      let watch: ArpWatch | null = null;
      let current = '';
      let started = false;
      let n = 0;
      // SIGUSR2 moves every decoy at once (e.g. after a scan was seen), on top of the policy's schedule.
      let bump = 0;
      let why = 'schedule';
      const contact = (c: unknown): void => void process.stdout.write(`${JSON.stringify(c)}\n`);
      const report = (e: Error): void => void process.stderr.write(`decoys: ${e.message}\n`);
      // One placement at a time: the first, the schedule's, a hand move, the one after a withdrawal.
      let busy = true;
      let again = false;
      const tick = (): void => {
        if (busy) return void (again = true);
        busy = true;
        again = false;
        place()
          .catch((e: Error) => process.stderr.write(`decoy rotation failed: ${e.message}\n`))
          .finally(() => {
            busy = false;
            if (again) tick();
            else why = 'schedule';
          });
      };
      const stopAll = async (): Promise<void> => {
        const all = hosts;
        hosts = [];
        current = '';
        for (const x of all) {
          watch?.unwatch(x.p.identity.ip);
          await x.h.stop();
        }
      };
      // A device says a decoy's address is its own: the decoy gives way at once, and says so.
      const withdraw = async (c: ArpClaim): Promise<void> => {
        const x = hosts.find((y) => y.p.identity.ip === c.address);
        if (x === undefined) return;
        watch?.unwatch(c.address);
        claimed.set(c.address, c.mac);
        hosts = hosts.filter((y) => y !== x);
        current = '';
        await x.h.stop();
        const event = {
          type: 'decoy_conflict',
          ts: Date.now() / 1000,
          set: x.p.slot.set,
          decoy: c.address,
          decoyMac: x.p.identity.mac,
          claimedBy: c.mac,
          arp: c.kind,
        };
        process.stdout.write(`${JSON.stringify(event)}\n`);
        process.stderr.write(
          `decoy ${c.address} (${x.p.slot.set}) withdrawn: ${c.mac} claims the address (${c.kind} ARP)\n`,
        );
        auditEnforcement(o, 'decoys.withdrawn', o.parent, event);
        why = 'address conflict';
        tick();
      };
      // Without the watch a device taking a decoy's address would go unnoticed: no watch, no decoys.
      const lost = async (reason: string): Promise<void> => {
        watch = null;
        await stopAll();
        process.stderr.write(
          `decoys withdrawn: the ARP watch on ${o.parent} stopped (${reason}); they return when it runs again\n`,
        );
        auditEnforcement(o, 'decoys.withdrawn', o.parent, {
          reason: `ARP watch stopped: ${reason}`,
        });
      };
      const place = async (): Promise<void> => {
        watch ??= await ArpWatch.start(
          o.parent,
          (c) => void withdraw(c).catch(report),
          (r) => void lost(r).catch(report),
        );
        const w = watch;
        // Each round passes over the addresses the last one found held, so it ends within the pool's size.
        for (;;) {
          const db = openExistingStore(o.db, STORE_HINT);
          let placement: Placement;
          try {
            placement = plan(db, secret, Date.now() / 1000, bump, claimed);
          } finally {
            db.close();
          }
          const { planned, notes } = placement;
          const key = planned.map(keyOf).join(',');
          if (key === current) return;
          const first = !started;
          const keys = new Set(planned.map(keyOf));
          for (const x of hosts.filter((y) => !keys.has(y.key))) {
            w.unwatch(x.p.identity.ip);
            await x.h.stop();
          }
          hosts = hosts.filter((y) => keys.has(y.key));
          current = '';
          const fresh = planned.filter((p) => !hosts.some((y) => y.key === keyOf(p)));
          for (const p of fresh) w.ownMac(p.identity.mac);
          const results = await Promise.allSettled(
            fresh.map((p) =>
              DecoyHost.start(
                `${o.netnsPrefix}-${tag}${n++}`,
                o.parent,
                p.identity,
                [process.execPath, main, 'decoy', 'serve'],
                contact,
              ),
            ),
          );
          const failed = results.find((r) => r.status === 'rejected');
          const up: typeof hosts = [];
          let held = false;
          results.forEach((r, i) => {
            if (r.status !== 'fulfilled') return;
            const p = fresh[i]!;
            if (r.value instanceof DecoyHost) return void up.push({ key: keyOf(p), p, h: r.value });
            held = true;
            claimed.set(p.identity.ip, r.value.heldBy);
            process.stderr.write(
              `decoy set '${p.slot.set}': ${p.identity.ip} answered the ARP probe from ${r.value.heldBy} (a device holds it): no decoy takes it\n`,
            );
          });
          hosts.push(...up);
          if (watch !== w) {
            // The watch stopped while these probed: lost() withdrew the others; these go too.
            await stopAll();
            throw new Error('the ARP watch stopped while decoys were being placed');
          }
          if (failed !== undefined) {
            // All or none: a half-placed set is stopped, and the next check tries again.
            await stopAll();
            throw (failed as PromiseRejectedResult).reason;
          }
          for (const x of up) w.watch(x.p.identity.ip, x.p.identity.mac);
          if (held) continue;
          started = true;
          current = key;
          for (const note of notes) process.stderr.write(`${note}\n`);
          auditEnforcement(o, first ? 'decoys.started' : 'decoys.rotated', o.parent, {
            ...(first ? {} : { why }),
            decoys: planned.map((p) => ({
              set: p.slot.set,
              epoch: p.slot.epoch,
              ...summary(p.identity),
            })),
            ...(notes.length ? { passedOver: notes } : {}),
          });
          process.stderr.write(
            `decoys ${first ? 'placed' : 'rotated'}: ${planned.map((p) => `${p.identity.ip} ${p.slot.set} (${p.identity.services.map((s) => `${s}/${p.identity.ports[s]}`).join(' ')})`).join('; ')}\n`,
          );
          return;
        }
      };
      try {
        await place();
      } catch (e) {
        (watch as ArpWatch | null)?.stop();
        await stopAll();
        throw e;
      } finally {
        busy = false;
      }
      if (again) tick();
      const timer = setInterval(tick, Number(o.checkEvery) * 1000);
      process.on('SIGUSR2', () => {
        bump++;
        why = 'by hand (SIGUSR2)';
        tick();
      });
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      clearInterval(timer);
      const w = watch as ArpWatch | null;
      watch = null;
      w?.stop();
      await stopAll();
      auditEnforcement(o, 'decoys.stopped', o.parent, {});
    },
  );

  cmd
    .command('serve', { hidden: true })
    .description(
      'one decoy responder: identity JSON on stdin; serves on its address, contacts as JSON lines',
    )
    .action(async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const id = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DecoyIdentity;
      const s = await serveDecoy(id, (c) => process.stdout.write(`${JSON.stringify(c)}\n`));
      process.stdout.write(`listening ${id.ip}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await s.close();
    });
}
