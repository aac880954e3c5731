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
import type { Blocklist } from './manager.js';
import type { StateDoc } from './signed-doc.js';
import type { Applied } from './state-follower.js';

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
  /** Told of each fleet block this site refused, with the reason (the node reports it to the manager). */
  onBlockRefused?: (address: string, reason: string, doc: StateDoc) => void;
  /** Told of each fleet permit this site refused (ran out, not its zone, malformed). */
  onPermitRefused?: PermitApplyOptions['onPermitRefused'];
  /** Advisory bundles: this site's import into its store, and what to tell of the outcome. */
  importBundle?: BundleApplyOptions['importBundle'];
  onBundleImported?: BundleApplyOptions['onBundleImported'];
  onBundleRefused?: BundleApplyOptions['onBundleRefused'];
}

export function stateApplier(
  backend: EnforcementBackend,
  o: ApplierOptions = { site: '' },
): (doc: StateDoc, prev: Applied | null) => Promise<void> {
  const now = o.now ?? Date.now;
  return async (doc, prev) => {
    const nowS = Math.floor(now() / 1000);
    const by = `manager ${doc.publisher} (${doc.kind} v${doc.version})`;
    if (doc.kind === 'blocklist') {
      const b = doc.body as Blocklist;
      const live = b.entries.filter((e) => {
        if (e.until <= nowS) return false;
        const refusal = e.origin === o.site ? null : (o.refuseBlock?.(e.address) ?? null);
        if (refusal !== null) o.onBlockRefused?.(e.address, refusal, doc);
        return refusal === null;
      });
      for (const e of live)
        await backend.block(e.address, e.until - nowS, `${by}: from ${e.origin}: ${e.comment}`);
      const keep = new Set(live.map((e) => e.address));
      for (const e of (prev?.body as Blocklist | undefined)?.entries ?? [])
        if (!keep.has(e.address) && e.until > nowS)
          await backend.unblock(e.address, `${by}: lifted`).catch(() => undefined);
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
      await applyPermits(backend, doc, prev, {
        site: o.site,
        now: o.now,
        onPermitRefused: o.onPermitRefused,
      });
    }
  };
}
