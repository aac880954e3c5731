/**
 * Enforcement at a fleet site: everything the local backend does, plus a block or unblock decided here (by a
 * person or a playbook) goes to the manager through the site's outbox, which makes it a new signed blocklist
 * version that every site applies. The local block happens first and does not wait for the manager: a site
 * cut off from it still contains locally.
 */
import type {
  ApplyOutcome,
  ApplyRequest,
  BlockResult,
  EnforcementBackend,
  HostStatus,
  PermitFlow,
  PermitResult,
  RevokedPermit,
  TemporaryPermit,
  UnblockResult,
} from '../enforce/backend.js';
import { checkTtl, FLEET_BLOCK_COMMENT_MAX } from './block-request.js';
import type { BlockRequest } from './manager.js';
import type { Outbox } from './outbox.js';
import { blocksInForce, ownBlockUnsent } from './site-blocks.js';
import { canonicalIp } from '../policy/hosts.js';

export class FleetBackend implements EnforcementBackend {
  readonly name: string;

  constructor(
    /** The site's own enforcement (nftables). */
    readonly local: EnforcementBackend,
    private readonly outbox: Outbox,
  ) {
    this.name = `${local.name} (fleet site ${outbox.site})`;
  }

  apply(req: ApplyRequest): Promise<ApplyOutcome> {
    return this.local.apply(req);
  }

  remove(actor: string): boolean {
    return this.local.remove(actor);
  }

  unsteer(): number {
    return this.local.unsteer();
  }

  async block(address: string, ttlSeconds: number, comment = ''): Promise<BlockResult> {
    // The manager refuses a fleet block longer than its cap: say so here, before anything is blocked.
    checkTtl(ttlSeconds);
    const r = await this.local.block(address, ttlSeconds, comment);
    this.outbox.add('block', {
      address,
      ttlSeconds,
      comment: comment.slice(0, FLEET_BLOCK_COMMENT_MAX),
    } satisfies BlockRequest);
    return r;
  }

  /**
   * Lift this site's block. While another origin (the manager, another site) still blocks the address, the
   * kernel entry stays (the next blocklist version sets its time to theirs) and only this site's own entry is
   * lifted fleet-wide; with no entry of its own there is nothing to send (the manager would refuse it).
   */
  async unblock(address: string, comment = ''): Promise<UnblockResult> {
    const ip = canonicalIp(address) ?? address;
    const inForce = blocksInForce(this.outbox.db, Math.floor(Date.now() / 1000)).filter(
      (e) => e.address === ip,
    );
    const keptBy = [
      ...new Set(inForce.filter((e) => e.origin !== this.outbox.site).map((e) => e.origin)),
    ].sort();
    const mine =
      inForce.some((e) => e.origin === this.outbox.site) || ownBlockUnsent(this.outbox, ip);
    const r: UnblockResult =
      keptBy.length > 0 ? { address, comment, keptBy } : await this.local.unblock(address, comment);
    if (keptBy.length > 0 && !mine) return r;
    this.outbox.add('block', {
      address,
      ttlSeconds: 0,
      comment: comment.slice(0, FLEET_BLOCK_COMMENT_MAX),
      unblock: true,
    } satisfies BlockRequest);
    return r;
  }

  permit(flow: PermitFlow, ttlSeconds: number, comment?: string): Promise<PermitResult> {
    return this.local.permit(flow, ttlSeconds, comment);
  }

  permits(): Promise<TemporaryPermit[]> {
    return this.local.permits();
  }

  grantedPermits(): TemporaryPermit[] {
    return this.local.grantedPermits();
  }

  revokePermit(p: PermitFlow, comment?: string): Promise<RevokedPermit | void> {
    return this.local.revokePermit(p, comment);
  }

  restorePermit(
    p: PermitFlow,
    ttlSeconds: number,
    comment?: string,
    revoked?: RevokedPermit,
  ): Promise<void> {
    return this.local.restorePermit(p, ttlSeconds, comment, revoked);
  }

  status(): HostStatus {
    return this.local.status();
  }

  close(): void {
    this.local.close();
  }
}
