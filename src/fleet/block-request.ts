/**
 * What the manager accepts from a site's 'block' record before it goes into the signed blocklist every site
 * applies. A site's node may be in an attacker's hands, so its record is input, not a decision: one host
 * address, a whole number of seconds within the fleet's cap, a bounded comment; anything else is refused.
 */
import { Refused } from './refused.js';
import { canonicalIp, isUnicastHost } from '../policy/hosts.js';

/** One address blocked across the fleet. */
export interface BlockEntry {
  address: string;
  /** Epoch seconds at which it lapses. */
  until: number;
  /** The site that decided it (or 'manager'). */
  origin: string;
  comment: string;
}

/** What a site's 'block' record carries (its FleetBackend writes it). */
export interface BlockRequest {
  address: string;
  ttlSeconds: number;
  comment: string;
  unblock?: boolean;
}

/** A fleet-wide block lasts at most this long (the dashboard's longest proposed block); longer is a policy. */
export const FLEET_BLOCK_MAX_S = 30 * 86400;
/** Longest comment carried into the blocklist. */
export const FLEET_BLOCK_COMMENT_MAX = 1024;

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The canonical host address, or why it is none. */
function hostOf(v: unknown): string {
  const ip = typeof v === 'string' && v.length <= 64 ? canonicalIp(v) : null;
  if (ip === null) throw new Refused(`not an IPv4 or IPv6 address: ${String(v).slice(0, 64)}`);
  if (!isUnicastHost(ip)) throw new Refused(`${ip} is not a unicast host address`);
  return ip;
}

/** A site's block request in canonical form, or Refused with the reason. */
export function checkBlockRequest(body: unknown): BlockRequest {
  if (!isObj(body)) throw new Refused('a block record is an object');
  const address = hostOf(body.address);
  const comment = body.comment ?? '';
  if (typeof comment !== 'string' || comment.length > FLEET_BLOCK_COMMENT_MAX)
    throw new Refused(`the comment is text of at most ${FLEET_BLOCK_COMMENT_MAX} characters`);
  if (body.unblock !== undefined && typeof body.unblock !== 'boolean')
    throw new Refused('unblock is true or false');
  if (body.unblock === true) return { address, ttlSeconds: 0, comment, unblock: true };
  checkTtl(body.ttlSeconds);
  return { address, ttlSeconds: body.ttlSeconds as number, comment };
}

/** A fleet block's time: whole seconds, 1 s to FLEET_BLOCK_MAX_S. */
export function checkTtl(ttl: unknown): void {
  if (!Number.isSafeInteger(ttl) || (ttl as number) < 1 || (ttl as number) > FLEET_BLOCK_MAX_S)
    throw new Refused(
      `a fleet block lasts 1 s to ${FLEET_BLOCK_MAX_S / 86400} d in whole seconds, not ${String(ttl).slice(0, 32)}`,
    );
}

/** Live entries one site may hold in the fleet blocklist: a site's node reports one plant, it is not a feed. */
export const FLEET_BLOCKS_PER_SITE = 4096;

/** The manager's own entries (`manager` or `manager:<person>`; site names never hold a colon). */
const byManager = (origin: string): boolean =>
  origin === 'manager' || origin.startsWith('manager:');

/**
 * An entry already in the blocklist as these checks hold it. Entries from before them are carried over, not
 * dropped: dropping would lift a deliberate block at every site. The address takes its canonical form, a
 * site's time is cut to the cap (the manager's own is its operator's earlier decision), the comment to its
 * bound. Only an entry whose address is no unicast host or whose time is no number is dropped (null).
 */
export function carriedEntry(e: BlockEntry, nowS: number): BlockEntry | null {
  let address: string;
  try {
    address = hostOf(e.address);
  } catch {
    return null;
  }
  if (!Number.isSafeInteger(e.until) || typeof e.origin !== 'string' || e.origin.length === 0)
    return null;
  const until = byManager(e.origin) ? e.until : Math.min(e.until, nowS + FLEET_BLOCK_MAX_S);
  const comment = typeof e.comment === 'string' ? e.comment.slice(0, FLEET_BLOCK_COMMENT_MAX) : '';
  return { address, until, origin: e.origin, comment };
}

/**
 * The blocklist's entries with `origin`'s block of `r.address` in place of its earlier one (nobody else's
 * entry changes). A site beyond FLEET_BLOCKS_PER_SITE live entries is Refused (its node may be an attacker's,
 * and every version re-signs and re-applies the whole list).
 */
export function withBlock(
  entries: readonly BlockEntry[],
  r: BlockRequest,
  origin: string,
  nowS: number,
): BlockEntry[] {
  const next = entries.filter((e) => !(e.address === r.address && e.origin === origin));
  if (!byManager(origin) && next.filter((e) => e.origin === origin).length >= FLEET_BLOCKS_PER_SITE)
    throw new Refused(
      `site ${origin} already holds ${FLEET_BLOCKS_PER_SITE} fleet blocks: ${r.address} refused`,
    );
  next.push({ address: r.address, until: nowS + r.ttlSeconds, origin, comment: r.comment });
  return next;
}
