import type { Db } from './db.js';

/**
 * The change-control rules of this store: set by an admin, audited, the same for every caller (review 14 C1).
 * A per-invocation settings file (--config, $WEIR_CONFIG) is the caller's to write, so it cannot loosen them.
 */
export const CHANGE_RULES = {
  /** Share (%) of an enforcing zone's baseline flows a simulation must carry to be evidence. */
  simulation_coverage_pct: { default: 80, min: 1, max: 100 },
  /** Router family: reverse-path check loose (1) or strict (0). */
  loose_reverse_path: { default: 0, min: 0, max: 1 },
} as const;
export type ChangeRule = keyof typeof CHANGE_RULES;

export function isChangeRule(k: string): k is ChangeRule {
  return Object.hasOwn(CHANGE_RULES, k);
}

export function changeRule(db: Db, key: ChangeRule): number {
  const r = db.prepare('SELECT value FROM change_rules WHERE key = ?').get(key) as
    | { value: string }
    | undefined;
  return r === undefined ? CHANGE_RULES[key].default : Number(r.value);
}

export function setChangeRule(db: Db, key: ChangeRule, value: number, by: string): void {
  db.prepare(
    'INSERT INTO change_rules (key, value, set_by, set_at) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, set_by = excluded.set_by, set_at = excluded.set_at',
  ).run(key, String(value), by, new Date().toISOString());
}
