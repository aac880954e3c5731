import type { Command } from 'commander';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { activePolicy } from '../../respond/change-control.js';
import { latestBaseline } from '../../store/baseline-store.js';
import { loadInventory } from '../../store/inventory-store.js';
import { DEFAULT_STATE_DIR } from '../../enforce/state.js';
import { planDecoys, PoolProbes, type PlannedDecoy } from '../../deceive/plan.js';
import {
  ClaimBook,
  conflictDetection,
  RELEASE_QUIET_S,
  REPROBE_AFTER_S,
} from '../../deceive/conflict.js';
import { saveDetections } from '../../store/baseline-store.js';
import { fileDetections, storeLookups } from '../../respond/incident-book.js';
import { heldAddresses, placementProblems } from '../../policy/decoy-placement.js';
import { serveDecoy } from '../../deceive/server.js';
import { DecoyHost } from '../../deceive/netns.js';
import { ArpWatch } from '../../deceive/arp-watch.js';
import type { ArpClaim, ArpHeard } from '../../deceive/arp-claim.js';
import type { DecoyIdentity } from '../../deceive/identity-model.js';
import type { Db } from '../../store/db.js';
import type { Detection } from '../../detect/detection.js';
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
  /** Cover probes and re-probes of pool addresses (MACs of the decoys' kind). */
  probes: PoolProbes;
  /** The addresses passed over (held by devices): no cover probe goes there. */
  avoid: ReadonlySet<string>;
  /** Every set's pool. */
  pool: ReadonlySet<string>;
}

/**
 * The decoys of the active policy at `ts`, refused when any pool address is one the baseline uses; pool
 * addresses a device of the inventory holds, and those in `claimed` (a device answered a probe or claimed one
 * by ARP during this run, and its claim has not lapsed), are passed over.
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
      `${address} is held by ${mac} (it answered a probe, or spoke from or probed for it by ARP): no decoy takes it until a re-probe finds it gone`,
    );
  for (const set of sets) {
    const n = planned.filter((p) => p.slot.set === set.name).length;
    if (n < set.active)
      notes.push(
        `decoy set '${set.name}' runs ${n} of its ${set.active} decoys: the rest of its pool is held by devices`,
      );
  }
  return {
    planned,
    notes,
    probes: new PoolProbes(active.policy, inventory, baseline),
    avoid,
    pool: new Set(sets.flatMap((set) => set.pool)),
  };
}

/**
 * A decoy withdrawn for a claim, as a detection in the store (the dashboard, the incidents and the SIEM export
 * read it there); severity by whether the inventory knows the claimer and how many decoys it claimed.
 */
function recordConflict(
  db: Db,
  c: ArpClaim,
  x: PlannedDecoy,
  claimedByMac: readonly string[],
  backAfterS: number | null,
): Detection {
  const asset = loadInventory(db).assets.find((a) => a.mac === c.mac);
  const d = conflictDetection({
    claim: c,
    ts: Date.now() / 1000,
    set: x.slot.set,
    zone: x.slot.zone,
    decoyMac: x.identity.mac,
    knownAs: asset === undefined ? null : asset.ips,
    claimedByMac,
    backAfterS,
  });
  const v = db.prepare('SELECT MAX(version) AS v FROM baselines').get() as { v: number | null };
  saveDetections(db, [d], v.v);
  fileDetections(db, [d], { lookups: storeLookups(db) });
  return d;
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
        '--reprobe-after <s>',
        'a pool address a device claimed is probed again after this long (seconds; doubles while it keeps answering)',
        String(REPROBE_AFTER_S),
      )
      .option(
        '--release-quiet <s>',
        'a claimed pool address comes back to the decoys only when a re-probe goes unanswered and nothing was heard from its claimer or for it this long (seconds)',
        String(RELEASE_QUIET_S),
      )
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
        reprobeAfter: string;
        releaseQuiet: string;
        netnsPrefix: string;
      },
    ) => {
      await proveEnforcer(o, 'decoy run');
      const secret = decoySecret(o.stateDir);
      const tag = randomBytes(3).toString('hex');
      const keyOf = (p: PlannedDecoy): string =>
        `${p.slot.set}/${p.slot.epoch}/${p.slot.slot}/${p.identity.ip}`;
      let hosts: Array<{ key: string; p: PlannedDecoy; h: DecoyHost }> = [];
      const reprobeAfter = Number(o.reprobeAfter);
      if (!(reprobeAfter > 0))
        throw new Error(`--reprobe-after: '${o.reprobeAfter}' is not a number of seconds`);
      const releaseQuiet = Number(o.releaseQuiet);
      if (!(releaseQuiet >= 0))
        throw new Error(`--release-quiet: '${o.releaseQuiet}' is not a number of seconds`);
      /** Pool addresses a device holds, found this run (probe answered, ARP claim), each until a re-probe. */
      const claims = new ClaimBook(reprobeAfter, releaseQuiet);
      /** The pools of the last placement: a device speaking from or probing for one of them holds it. */
      let pool: ReadonlySet<string> = new Set();
      /** MAC → the decoy addresses it claimed this run (one MAC claiming several is clearing the decoys). */
      const byMac = new Map<string, Set<string>>();
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
      let stopping = false;
      /** The placement under way: a stop waits for it, or a decoy it starts would outlive the run. */
      let inflight: Promise<unknown> = Promise.resolve();
      const tick = (): void => {
        if (stopping) return;
        if (busy) return void (again = true);
        busy = true;
        again = false;
        inflight = place()
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
        const backAfterS = claims.claim(c.address, c.mac, Date.now() / 1000);
        const mine = byMac.get(c.mac) ?? new Set<string>();
        byMac.set(c.mac, mine.add(c.address));
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
          reprobeAfter: backAfterS,
        };
        process.stdout.write(`${JSON.stringify(event)}\n`);
        process.stderr.write(
          `decoy ${c.address} (${x.p.slot.set}) withdrawn: ${c.mac} claims the address (${c.kind} ARP); ${backAfterS === null ? 'claimed before in this run: no decoy goes there again until the run ends' : `probed again in ${backAfterS} s at the earliest`}\n`,
        );
        // A withdrawal is a detection, not only a line here: forged claims must not take decoys away unseen.
        let detection: Detection | null = null;
        const db = openExistingStore(o.db, STORE_HINT);
        try {
          detection = recordConflict(db, c, x.p, [...mine], backAfterS);
        } catch (e) {
          report(new Error(`the decoy_conflict detection was not stored: ${(e as Error).message}`));
        } finally {
          db.close();
        }
        auditEnforcement(o, 'decoys.withdrawn', o.parent, {
          ...event,
          ...(detection ? { detection: detection.id, severity: detection.severity } : {}),
        });
        why = 'address conflict';
        tick();
      };
      // Any ARP of a device keeps its claims; one speaking from a free pool address, or probing for it (RFC 5227
      // ACD: about to take it), holds it from now: no decoy or probe of ours may get in a device's way there.
      const heard = (a: ArpHeard): void => {
        const now = Date.now() / 1000;
        claims.hear(a, now);
        const address = a.sender === '0.0.0.0' ? (a.op === 1 ? a.target : '') : a.sender;
        if (!pool.has(address) || claims.holds(address)) return;
        if (hosts.some((y) => y.p.identity.ip === address)) return;
        const wait = claims.claim(address, a.mac, now);
        process.stderr.write(
          `decoy pool address ${address} is in use: ${a.mac} ${a.sender === '0.0.0.0' ? 'probes for it' : 'speaks from it'} (ARP); no decoy takes it${wait === null ? ' again in this run' : ` for ${wait} s at least`}\n`,
        );
      };
      // Without the watch a device taking a decoy's address would go unnoticed: no watch, no decoys.
      const lost = async (reason: string): Promise<void> => {
        watch = null;
        process.stderr.write(
          `decoys withdrawn: the ARP watch on ${o.parent} stopped (${reason}); they return when it runs again\n`,
        );
        await stopAll();
        auditEnforcement(o, 'decoys.withdrawn', o.parent, {
          reason: `ARP watch stopped: ${reason}`,
        });
      };
      /** Re-probe the claimed addresses that are due; true when one came free (the placement is drawn again). */
      const reprobe = async (probes: PoolProbes): Promise<boolean> => {
        const now = Date.now() / 1000;
        const due: Array<{ ip: string; mac: string }> = [];
        for (const ip of claims.due(now)) {
          const p = probes.of(ip);
          // No set's pool holds it any more (a new policy): nothing to give back.
          if (p === null) claims.release(ip);
          else {
            // A probe of ours, not a device's.
            watch?.ownMac(p.mac);
            due.push(p);
          }
        }
        const answers = await Promise.allSettled(
          due.map((p) =>
            DecoyHost.probeOnly(`${o.netnsPrefix}-${tag}${n++}`, o.parent, p.mac, p.ip),
          ),
        );
        const freed: string[] = [];
        answers.forEach((r, i) => {
          const ip = due[i]!.ip;
          if (r.status === 'rejected') {
            claims.postpone(ip, now);
            return report(new Error(`re-probe of ${ip}: ${(r.reason as Error).message}`));
          }
          if (r.value === null) {
            // Silent for the quiet time too (due() says so): gone, not only powered off for a while.
            claims.release(ip);
            return void freed.push(ip);
          }
          const wait = claims.claim(ip, r.value, Date.now() / 1000);
          process.stderr.write(
            `decoy pool address ${ip} still held by ${r.value} (re-probe answered): ${wait === null ? 'held for the rest of the run' : `probed again in ${wait} s at the earliest`}\n`,
          );
        });
        if (freed.length === 0) return false;
        process.stderr.write(
          `decoy pool addresses free again (nobody answered the re-probe, nothing heard for ${releaseQuiet} s): ${freed.join(', ')}\n`,
        );
        why = `re-probe: ${freed.join(', ')} free again`;
        return true;
      };
      const place = async (): Promise<void> => {
        watch ??= await ArpWatch.start(
          o.parent,
          (c) => void withdraw(c).catch(report),
          (r) => void lost(r).catch(report),
          heard,
        );
        const w = watch;
        // Each round passes over the addresses the last one found held, so it ends within the pool's size.
        for (;;) {
          const db = openExistingStore(o.db, STORE_HINT);
          let placement: Placement;
          try {
            placement = plan(db, secret, Date.now() / 1000, bump, claims.held());
          } finally {
            db.close();
          }
          pool = placement.pool;
          // Claims due for their re-probe: asked alone first, so no running decoy moves for a device still there.
          if (await reprobe(placement.probes)) continue;
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
          // Cover probes beside the decoys' own, at the same time from MACs of the same kind: a listener
          // hears the set's pool probed, not where the decoys went.
          const covers = placement.probes.covers(
            fresh,
            new Set(planned.map((p) => p.identity.ip)),
            placement.avoid,
          );
          for (const cv of covers) w.ownMac(cv.mac);
          const covered = Promise.allSettled(
            covers.map((cv) =>
              DecoyHost.probeOnly(`${o.netnsPrefix}-${tag}${n++}`, o.parent, cv.mac, cv.ip),
            ),
          );
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
          (await covered).forEach((r, i) => {
            const cv = covers[i]!;
            if (r.status === 'rejected')
              return report(new Error(`cover probe of ${cv.ip}: ${(r.reason as Error).message}`));
            if (r.value === null || claims.holds(cv.ip)) return;
            claims.claim(cv.ip, r.value, Date.now() / 1000);
            process.stderr.write(
              `decoy set '${cv.set}': ${cv.ip} answered a cover probe from ${r.value} (a device holds it): no decoy takes it\n`,
            );
          });
          results.forEach((r, i) => {
            if (r.status !== 'fulfilled') return;
            const p = fresh[i]!;
            if (r.value instanceof DecoyHost) return void up.push({ key: keyOf(p), p, h: r.value });
            held = true;
            if (!claims.holds(p.identity.ip))
              claims.claim(p.identity.ip, r.value.heldBy, Date.now() / 1000);
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
          for (const x of up) {
            if (!claims.holds(x.p.identity.ip)) {
              w.watch(x.p.identity.ip, x.p.identity.mac);
              continue;
            }
            // A device spoke from or probed for the address while its decoy was placed: the device wins.
            hosts = hosts.filter((y) => y !== x);
            await x.h.stop();
            held = true;
            process.stderr.write(
              `decoy set '${x.p.slot.set}': ${x.p.identity.ip} was claimed while its decoy started: the decoy gives way\n`,
            );
          }
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
      stopping = true;
      // A placement may have chained another (again): wait until none is under way.
      for (let seen: Promise<unknown> | null = null; seen !== inflight; ) await (seen = inflight);
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
