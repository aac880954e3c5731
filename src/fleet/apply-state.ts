/**
 * How a site puts the manager's verified documents into force on its own enforcement backend (never the
 * FleetBackend: what comes from the manager is not sent back to it).
 */
import { createHash } from 'node:crypto';
import type { EnforcementBackend } from '../enforce/backend.js';
import { bridgeMac } from '../enforce/bridge-mac.js';
import { parsePolicy } from '../policy/load.js';
import { applyBundle, type BundleApplyOptions } from './apply-bundle.js';
import { applyPermits, type PermitApplyOptions } from './apply-permits.js';
import { guardBlock } from '../respond/block-impact.js';
import { neverBlockRefusal, type NeverBlock } from '../respond/playbook-guard.js';
import { openStore } from '../store/db.js';
import type { Blocklist } from './manager.js';
import type { StateDoc } from './signed-doc.js';
import { PartlyApplied, type Applied } from './state-follower.js';

export interface PolicyDocBody {
  text: string;
  source: string;
}

export interface ApplierOptions {
  site: string;
  now?: () => number;
  /**
   * This site's inline gateway (settings enforce.gateway_ip and enforce.bridge): the manager's policies steer
   * groups with function, address or read-only limits to it, as `weir enforce apply --gateway-ip` does. Null:
   * none here, so those groups are enforced port-level only, and `onPortLevel` is told which.
   */
  gateway?: { ip: string; bridge: string; netns?: string } | null;
  /** Groups of a fleet policy enforced by client, server and port only because this site has no gateway. */
  onPortLevel?: (groups: Array<{ group: string; why: string }>, doc: StateDoc) => void;
  /**
   * This site's own check of a fleet block (its baseline): a reason to refuse, or null. Sites reuse private
   * address plans, so an attacker's address at one site can be a PLC or an HMI at another; a block decided
   * elsewhere must never cut what this site learned as normal.
   */
  refuseBlock?: (address: string) => string | null;
  /**
   * What this site never blocks, read for each blocklist document (its own addresses and subnets, routers,
   * gateway, the hub it reaches the manager by): refused before the baseline guard, whoever decided the block.
   * Absent: only what no site ever blocks (not one unicast host) is refused.
   */
  neverBlock?: () => NeverBlock;
  /** Told of each fleet block this site refused, with the reason (the node reports it to the manager). */
  onBlockRefused?: (address: string, reason: string, doc: StateDoc) => void;
  /** Told of each fleet permit this site refused (ran out, not its zone, malformed). */
  onPermitRefused?: PermitApplyOptions['onPermitRefused'];
  /** Advisory bundles: this site's import into its store, and what to tell of the outcome. */
  importBundle?: BundleApplyOptions['importBundle'];
  onBundleImported?: BundleApplyOptions['onBundleImported'];
  onBundleRefused?: BundleApplyOptions['onBundleRefused'];
  /**
   * Told each time this site's store could not be read for the guard (SQLite busy: a tool holds it locked).
   * The document is not refused and not applied unchecked: it waits, and the guard is asked again after
   * `waitMs`, until the store answers (the node reports the first wait to the manager).
   */
  onGuardBusy?: (address: string, attempt: number, waitMs: number, doc: StateDoc) => void;
  /** Waits between guard attempts on a locked store: doubling from min to max (ms). */
  busyBackoff?: { minMs: number; maxMs: number };
  /** True once the node is stopping: a wait on a locked store ends (the document is taken again at start). */
  stopping?: () => boolean;
}

/**
 * This site's baseline check of a fleet block, as `weir node --db` runs it: the store opened for each check
 * (the newest baseline, no lock held between checks) with a short busy wait, so a store another process holds
 * locked throws SQLITE_BUSY quickly and the document waits with backoff instead of blocking the node.
 */
export function siteStoreGuard(dbPath: string, busyMs = 200): (address: string) => string | null {
  return (address) => {
    const db = openStore(dbPath, { busyTimeoutMs: busyMs });
    try {
      return guardBlock(db, address, false).refusal;
    } finally {
      db.close();
    }
  };
}

/** SQLite's answer when another process holds the store locked (SQLITE_BUSY, SQLITE_LOCKED and their kin). */
export function storeBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

/** The guard's verdict on one address, asked again with backoff while the store is locked. */
async function guardWithRetry(
  o: ApplierOptions,
  address: string,
  doc: StateDoc,
): Promise<string | null> {
  const min = o.busyBackoff?.minMs ?? 250;
  const max = o.busyBackoff?.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return o.refuseBlock?.(address) ?? null;
    } catch (err) {
      if (!storeBusy(err)) throw err;
      if (o.stopping?.() === true)
        throw new Error(
          `stopped while this site's store was locked (${doc.kind} v${doc.version} waits)`,
        );
      const waitMs = Math.min(max, min * 2 ** Math.min(attempt - 1, 20));
      o.onGuardBusy?.(address, attempt, waitMs, doc);
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
}

export function stateApplier(
  backend: EnforcementBackend,
  o: ApplierOptions = { site: '' },
): (doc: StateDoc, prev: Applied | null, partial?: unknown) => Promise<{ held?: unknown } | void> {
  return async (doc, prev, partial) => {
    const by = `manager ${doc.publisher} (${doc.kind} v${doc.version})`;
    if (doc.kind === 'blocklist') {
      const held = await applyBlocklist(backend, o, doc, prev, partial);
      if (held !== null) return { held };
    } else if (doc.kind === 'policy') {
      const p = doc.body as PolicyDocBody;
      const r = parsePolicy(p.text, p.source);
      if (!r.ok) throw new Error(`policy v${doc.version} from the manager does not load`);
      const gw = o.gateway ?? null;
      const out = await backend.apply({
        source: {
          policy: r.policy,
          text: p.text,
          source: p.source,
          sha: createHash('sha256').update(p.text).digest('hex'),
        },
        actor: by,
        gatewayIp: gw?.ip ?? null,
        bridgeMac: () => {
          if (gw === null)
            throw new Error('this site runs no gateway (settings enforce.gateway_ip)');
          return bridgeMac(gw.bridge, gw.netns);
        },
        // A site without a gateway still enforces what the kernel can (client, server, port) rather than
        // nothing; what that leaves unchecked is reported, never silent.
        portLevelOk: true,
        dryRun: false,
      });
      const unchecked = (out?.plan?.portLevel ?? []).filter((g) =>
        g.why.endsWith('accepted as port-level only'),
      );
      if (unchecked.length > 0) o.onPortLevel?.(unchecked, doc);
    } else if (doc.kind === 'bundle') {
      await applyBundle(doc, o);
    } else {
      await applyPermits(backend, doc, prev, partial, {
        site: o.site,
        now: o.now,
        onPermitRefused: o.onPermitRefused,
      });
    }
  };
}

/**
 * A blocklist into force: each live entry this site does not refuse is blocked (one kernel element per address);
 * what the last version applied, or a version that failed half-way since, put in and this one no longer holds is
 * lifted. One address that cannot be judged or blocked does not stop the others, nor the lifts: the document then
 * fails as `PartlyApplied`, naming what it holds beyond the version applied. Returns what of the document this
 * site holds when less than all of it (null: all).
 */
async function applyBlocklist(
  backend: EnforcementBackend,
  o: ApplierOptions,
  doc: StateDoc,
  prev: Applied | null,
  partial: unknown,
): Promise<{ entries: Blocklist['entries'] } | null> {
  const now = o.now ?? Date.now;
  const nowS = Math.floor(now() / 1000);
  const by = `manager ${doc.publisher} (${doc.kind} v${doc.version})`;
  const b = doc.body as Blocklist;
  const live: Blocklist['entries'] = [];
  /** Addresses this document could not judge or block, with why: their kernel elements stay as they were. */
  const failed = new Map<string, string>();
  const never = o.neverBlock?.() ?? { addresses: [], subnets: [] };
  for (const e of b.entries) {
    if (e.until <= nowS) continue;
    // This site's gateway, host, router or hub is never blocked, even by its own earlier decision (the
    // gateway may have been set up since); others' blocks also pass this site's baseline.
    let refusal: string | null;
    try {
      refusal =
        neverBlockRefusal(e.address, never) ??
        (e.origin === o.site ? null : await guardWithRetry(o, e.address, doc));
    } catch (err) {
      if (o.stopping?.() === true) throw err;
      failed.set(e.address, `could not check ${e.address} (${(err as Error).message})`);
      continue;
    }
    if (refusal !== null) o.onBlockRefused?.(e.address, refusal, doc);
    else live.push(e);
  }
  // One kernel element per address, for the longest of its entries (one per origin): adding an element
  // again sets its timeout, so a shorter entry applied after a longer one would cut the block short.
  const longest = new Map<string, Blocklist['entries'][number]>();
  for (const e of live)
    if ((longest.get(e.address)?.until ?? -Infinity) < e.until) longest.set(e.address, e);
  // A locked store may have held the guard a while: the time left is counted from now.
  const atBlock = Math.floor(now() / 1000);
  const put = new Set<string>();
  for (const e of longest.values()) {
    if (e.until <= atBlock) continue;
    try {
      await backend.block(e.address, e.until - atBlock, `${by}: from ${e.origin}: ${e.comment}`);
      put.add(e.address);
    } catch (err) {
      failed.set(e.address, `could not block ${e.address} (${(err as Error).message})`);
    }
  }
  // Lifted: what the version applied or a half-failed one since holds that this one does not (review 13, M4).
  const was = entriesOf(partial);
  const keep = new Set([...live.map((e) => e.address), ...failed.keys()]);
  const lifted = new Set<string>();
  for (const e of [...entriesOf(prev?.body), ...was])
    if (!keep.has(e.address) && e.until > nowS && !lifted.has(e.address)) {
      lifted.add(e.address);
      await backend.unblock(e.address, `${by}: lifted`).catch(() => undefined);
    }
  if (failed.size > 0)
    // Held beyond the version applied: what this one put in, and what a half-failed one put in at an address
    // this one left as it was.
    throw new PartlyApplied(
      `${[...failed.values()].join('; ')}; ${put.size} of ${put.size + failed.size} blocks in force`,
      {
        entries: [
          ...live.filter((e) => put.has(e.address)),
          ...was.filter((e) => failed.has(e.address)),
        ],
      },
    );
  // What this site holds: a later unblock here is kept only by other origins' entries it really runs.
  return live.length < b.entries.length ? { entries: live } : null;
}

const entriesOf = (body: unknown): Blocklist['entries'] => {
  const e = (body as Partial<Blocklist> | null | undefined)?.entries;
  return Array.isArray(e) ? e : [];
};
