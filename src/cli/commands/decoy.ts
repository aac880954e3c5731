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
import { placementProblems } from '../../policy/decoy-placement.js';
import { serveDecoy } from '../../deceive/server.js';
import { DecoyHost } from '../../deceive/netns.js';
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

/** The decoys of the active policy at `ts`, refused when any sits on an address the baseline uses. */
function plan(db: Db, secret: string, ts: number, bump = 0): PlannedDecoy[] {
  const active = activePolicy(db);
  if (active === null)
    throw new Error('no active policy in the store: decoys come from an approved policy');
  if (!active.policy.decoys?.length) throw new Error('the active policy declares no decoys');
  const baseline = latestBaseline(db);
  if (baseline === null) throw new Error('no baseline in the store: run `weir learn` first');
  const problems = placementProblems(active.policy.decoys, baseline);
  if (problems.length) throw new Error(problems.map((p) => p.message).join('\n'));
  return planDecoys(active.policy, loadInventory(db), baseline, secret, ts, bump);
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
        const p = plan(db, decoySecret(o.stateDir), ts);
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
      let hosts: DecoyHost[] = [];
      let current = '';
      let started = false;
      let n = 0;
      // SIGUSR2 moves every decoy at once (e.g. after a scan was seen), on top of the policy's schedule.
      let bump = 0;
      let why = 'schedule';
      const contact = (c: unknown): void => void process.stdout.write(`${JSON.stringify(c)}\n`);
      const place = async (): Promise<void> => {
        const db = openExistingStore(o.db, STORE_HINT);
        let planned: PlannedDecoy[];
        try {
          planned = plan(db, secret, Date.now() / 1000, bump);
        } finally {
          db.close();
        }
        const key = planned.map((p) => `${p.slot.set}/${p.slot.epoch}`).join(',');
        if (key === current) return;
        const first = !started;
        started = true;
        for (const h of hosts) await h.stop();
        hosts = [];
        current = '';
        try {
          for (const p of planned)
            hosts.push(
              await DecoyHost.start(
                `${o.netnsPrefix}-${tag}${n++}`,
                o.parent,
                p.identity,
                [process.execPath, main, 'decoy', 'serve'],
                contact,
              ),
            );
        } catch (e) {
          // All or none: a half-placed set is stopped, and the next check tries again.
          for (const h of hosts) await h.stop();
          hosts = [];
          throw e;
        }
        current = key;
        auditEnforcement(o, first ? 'decoys.started' : 'decoys.rotated', o.parent, {
          ...(first ? {} : { why }),
          decoys: planned.map((p) => ({
            set: p.slot.set,
            epoch: p.slot.epoch,
            ...summary(p.identity),
          })),
        });
        process.stderr.write(
          `decoys ${first ? 'placed' : 'rotated'}: ${planned.map((p) => `${p.identity.ip} ${p.slot.set} (${p.identity.services.map((s) => `${s}/${p.identity.ports[s]}`).join(' ')})`).join('; ')}\n`,
        );
      };
      await place();
      let busy = false;
      const tick = (): void => {
        if (busy) return;
        busy = true;
        place()
          .catch((e: Error) => process.stderr.write(`decoy rotation failed: ${e.message}\n`))
          .finally(() => {
            busy = false;
            why = 'schedule';
          });
      };
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
      for (const h of hosts) await h.stop();
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
