import type {
  BlockResult,
  EnforcementBackend,
  HostStatus,
  PermitFlow,
  PermitResult,
  UnblockResult,
  ApplyRequest,
} from './backend.js';
import { applyEnforcement, type ApplyOutcome } from './apply.js';
import {
  blockSource,
  permitFlow,
  loadedDigest,
  loadedObjects,
  removeRuleset,
  statusOf,
  unblockSource,
  type NftTarget,
} from './nft.js';
import { gatewayState, readApplied, writeApplied } from './state.js';

/**
 * Enforcement by nftables on this host (optionally inside a network namespace), with the protocol gateway
 * that the ruleset steers to: the apply path switches a running gateway first, and the state folder records
 * what the host runs, for the gateway, `enforce status` and the dashboard.
 */
export class NftBackend implements EnforcementBackend {
  readonly name = 'nftables';

  constructor(
    readonly target: NftTarget,
    /** Runtime state of this enforcement host (applied policy, gateway health). */
    readonly stateDir: string,
    private readonly now: () => number = Date.now,
  ) {}

  apply(req: ApplyRequest): Promise<ApplyOutcome> {
    return applyEnforcement({ ...req, target: this.target, stateDir: this.stateDir });
  }

  remove(actor: string): boolean {
    const removed = removeRuleset(this.target);
    // The record of what this host runs says so too: nothing, since now, by whom.
    const applied = readApplied(this.stateDir);
    if (applied !== null)
      writeApplied(this.stateDir, {
        ...applied,
        removedAt: new Date(this.now()).toISOString(),
        removedBy: actor,
      });
    return removed;
  }

  block(address: string, ttlSeconds: number, comment = ''): BlockResult {
    checkTtl(ttlSeconds);
    blockSource(this.target, address, ttlSeconds);
    return { address, ttlSeconds, until: this.seconds() + ttlSeconds, comment };
  }

  unblock(address: string, comment = ''): UnblockResult {
    unblockSource(this.target, address);
    return { address, comment };
  }

  permit(flow: PermitFlow, ttlSeconds: number, comment = ''): PermitResult {
    checkTtl(ttlSeconds);
    permitFlow(this.target, flow, ttlSeconds);
    return { flow, ttlSeconds, until: this.seconds() + ttlSeconds, comment };
  }

  status(): HostStatus {
    // One listing serves both the status and the digest.
    const objs = loadedObjects(this.target);
    const s = statusOf(objs, this.target.family);
    const gw = gatewayState(this.stateDir, this.now());
    // Steering set up but no lease held: whatever the gateway's record says, traffic is not inspected now.
    const uninspected = s.steered.length > 0 && s.live.length === 0;
    const gateway =
      uninspected && gw.state === 'up'
        ? { state: 'down' as const, since: gw.health.beatAt, health: gw.health }
        : gw;
    return {
      ...s,
      digest: loadedDigest(objs),
      applied: readApplied(this.stateDir),
      gateway,
      uninspected,
    };
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

/** A block or permit lapses by itself: a timeout of zero or less (or none) would make it forever. */
function checkTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new Error(`a timeout is a whole number of seconds, at least 1, not ${ttl}`);
}
