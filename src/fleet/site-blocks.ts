/**
 * What a site knows of the fleet blocks of an address: the entries of the blocklist version it last applied
 * (one per origin) and of versions that failed half-way since, and its own block records still on their way to
 * the manager.
 */
import { canonicalIp } from '../policy/hosts.js';
import type { BlockEntry } from './block-request.js';
import type { FleetDb } from './fleet-db.js';
import type { Outbox } from './outbox.js';

/**
 * The entries of the blocklist this node last applied that it holds in force at `nowS` (none before the first):
 * not those it refused (never-block, its baseline), which are in no kernel here and keep nothing here; and those a
 * version that failed half-way since put in (review 13, L9), which hold their addresses' kernel elements now.
 */
export function blocksInForce(db: FleetDb, nowS: number): BlockEntry[] {
  const r = db.prepare("SELECT body, held FROM state_applied WHERE kind = 'blocklist'").get() as
    | { body: string; held: string | null }
    | undefined;
  const p = db.prepare("SELECT held FROM state_partial WHERE kind = 'blocklist'").get() as
    | { held: string }
    | undefined;
  // Applied before `held` was recorded: the whole document, as before, until the next version.
  const applied = r === undefined ? [] : entriesOf(r.held ?? r.body);
  const partial = p === undefined ? [] : entriesOf(p.held);
  const redone = new Set(partial.map((e) => e.address));
  return [...applied.filter((e) => !redone.has(e.address)), ...partial].filter(
    (e) => e.until > nowS,
  );
}

function entriesOf(json: string): BlockEntry[] {
  const entries = (JSON.parse(json) as { entries?: unknown } | null)?.entries;
  return Array.isArray(entries)
    ? (entries as BlockEntry[]).filter((e) => typeof e?.address === 'string')
    : [];
}

/** Whether the last record this site has not yet delivered for `ip` is a block of its own (not a lift). */
export function ownBlockUnsent(outbox: Outbox, ip: string): boolean {
  let last: boolean | null = null;
  for (const b of outbox.unsent('block')) {
    const r = b as { address?: unknown; unblock?: unknown } | null;
    if (typeof r?.address === 'string' && canonicalIp(r.address) === ip) last = r.unblock !== true;
  }
  return last === true;
}
