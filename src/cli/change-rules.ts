import type { Command } from 'commander';
import type { Db } from '../store/db.js';
import {
  CHANGE_RULES,
  changeRule,
  setChangeRule,
  type ChangeRule,
} from '../store/change-rules-store.js';
import { appendAudit } from '../store/audit-store.js';
import { audited } from '../respond/audited.js';
import { CAN } from '../respond/roles.js';
import { asCaller, inStore, withIdentity, type IdentityOpts } from './identity.js';
import { cliSettings, settingsSource } from './settings.js';

/**
 * The change-control rules live in the store, set by an admin and audited (review 14 C1): the settings file is
 * whatever the caller names with --config or $WEIR_CONFIG, so it cannot choose the evidence a change needs or
 * loosen the anti-spoofing check. A settings file that still names them is told so, never obeyed to loosen.
 */
const HOW = (key: string, dbPath: string): string =>
  `an admin sets it in the store: weir policy rules --db ${dbPath} --${key.replaceAll('_', '-')} VALUE (audited)`;

const fileName = (): string => settingsSource() ?? 'the settings';

/** The share (%) a simulation must carry, the store's; a settings file that names another is told it is not read. */
export function storeCoveragePct(db: Db, dbPath: string): number {
  const store = changeRule(db, 'simulation_coverage_pct');
  const file = cliSettings().enforce.simulation_coverage_pct;
  if (file !== CHANGE_RULES.simulation_coverage_pct.default && file !== store)
    process.stderr.write(
      `note: enforce.simulation_coverage_pct (${file}) in ${fileName()} is no longer read: this store's rule is ${store}%; ${HOW('simulation_coverage_pct', dbPath)}\n`,
    );
  return store;
}

/**
 * The reverse-path mode, the store's. A settings file asking for loose where the store says strict is refused
 * rather than silently tightened: strict on a plant with asymmetric routing drops real traffic.
 */
export function storeLooseReversePath(db: Db, dbPath: string): boolean {
  const loose = changeRule(db, 'loose_reverse_path') === 1;
  if (cliSettings().enforce.loose_reverse_path && !loose)
    throw new Error(
      `enforce.loose_reverse_path is on in ${fileName()}, but this store's rule is strict, and the file is no longer read for it; ${HOW('loose_reverse_path', dbPath)} (nothing was changed on this host)`,
    );
  return loose;
}

const RULE_OPTS: Record<
  ChangeRule,
  { flag: string; help: string; parse: (v: string) => number; show: (n: number) => string }
> = {
  simulation_coverage_pct: {
    flag: '--simulation-coverage-pct <pct>',
    help: "share (%) of a zone's baseline flows a simulation must carry before a change to the zone applies",
    parse: (v) => {
      const n = Number(v);
      const r = CHANGE_RULES.simulation_coverage_pct;
      if (!Number.isInteger(n) || n < r.min || n > r.max)
        throw new Error(`--simulation-coverage-pct is a whole number from ${r.min} to ${r.max}`);
      return n;
    },
    show: (n) => `${n}%`,
  },
  loose_reverse_path: {
    flag: '--loose-reverse-path <on|off>',
    help: 'router enforcement: on = loose reverse-path check (any route back, for asymmetric routing), off = strict',
    parse: (v) => {
      if (v !== 'on' && v !== 'off') throw new Error('--loose-reverse-path is on or off');
      return v === 'on' ? 1 : 0;
    },
    show: (n) => (n === 1 ? 'on (loose)' : 'off (strict)'),
  },
};

const optName = (k: ChangeRule): string =>
  k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

export function registerChangeRules(policy: Command): void {
  const cmd = withIdentity(policy.command('rules'))
    .description(
      "show or set this store's change-control rules: the share of a zone's baseline flows a simulation must carry, and the router reverse-path mode (setting them: admin only, audited)",
    )
    .requiredOption('--db <db>', 'store');
  for (const k of Object.keys(RULE_OPTS) as ChangeRule[])
    cmd.option(RULE_OPTS[k].flag, RULE_OPTS[k].help);
  cmd.action(async (o: IdentityOpts & { db: string } & Record<string, string | undefined>) => {
    const asked = (Object.keys(RULE_OPTS) as ChangeRule[]).filter(
      (k) => o[optName(k)] !== undefined,
    );
    const show = (db: Db): void => {
      for (const k of Object.keys(RULE_OPTS) as ChangeRule[])
        process.stdout.write(`${k}: ${RULE_OPTS[k].show(changeRule(db, k))}\n`);
    };
    if (asked.length === 0) return inStore(o.db, show);
    const values = asked.map((k) => [k, RULE_OPTS[k].parse(o[optName(k)]!)] as const);
    await asCaller(o.db, o, CAN.manageUsers, 'set change-control rules', (db, who) => {
      audited(db, () => {
        for (const [k, v] of values) {
          const from = changeRule(db, k);
          if (from === v) continue;
          setChangeRule(db, k, v, who.name);
          appendAudit(db, {
            actor: who.name,
            action: 'change_rules.set',
            subject: k,
            details: { from, to: v },
          });
        }
      });
      show(db);
    });
  });
}
