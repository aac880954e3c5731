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
  TemporaryPermit,
  UnblockResult,
} from '../enforce/backend.js';
import { checkTtl, FLEET_BLOCK_COMMENT_MAX } from './block-request.js';
import type { BlockRequest } from './manager.js';
import type { Outbox } from './outbox.js';

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

  async unblock(address: string, comment = ''): Promise<UnblockResult> {
    const r = await this.local.unblock(address, comment);
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

  revokePermit(p: PermitFlow, comment?: string): Promise<void> {
    return this.local.revokePermit(p, comment);
  }

  restorePermit(p: PermitFlow, ttlSeconds: number, comment?: string): Promise<void> {
    return this.local.restorePermit(p, ttlSeconds, comment);
  }

  status(): HostStatus {
    return this.local.status();
  }

  close(): void {
    this.local.close();
  }
}
