/**
 * What a playbook needs of the enforcement host, and nothing more: the runner and undo speak only to this.
 * respond/ may not import enforce/, so the narrow contract lives here and enforce/'s `EnforcementBackend`
 * extends it: the host's backend (nftables over a persistent `nft -i` here, a fleet node or a test double
 * elsewhere) is handed in at the edge as it is.
 */
export interface TemporaryPermit {
  client: string;
  server: string;
  transport: 'tcp' | 'udp';
  port: number;
  /** Seconds it has left, when the kernel says. */
  expiresIn: number | null;
}

export interface PlaybookKernel {
  /**
   * Drop everything from and to `address` for `ttlSeconds` (a whole number, at least 1), now. Resolves once
   * the kernel holds it (with the backend's own record of it, which the runner does not need).
   */
  block(address: string, ttlSeconds: number, reason: string): Promise<unknown>;
  unblock(address: string, reason: string): Promise<unknown>;
  /** Temporary permits (`weir permit`) in force now, as the kernel lists them. */
  permits(): Promise<TemporaryPermit[]>;
  /**
   * The same from Weir's own records of what it granted (written before the kernel lets a flow in, so no permit
   * in force is missing), read at once without starting a process; throws when the records cannot be read.
   */
  grantedPermits(): TemporaryPermit[];
  /** Withdraw a permit; says which set held it where the backend can tell (void: it cannot). */
  revokePermit(p: TemporaryPermit, reason: string): Promise<RevokedPermit | void>;
  /**
   * Put a revoked permit back as it was (`revoked`: what revokePermit said): a scoped one with its scope, never
   * wider; throws RestoreRefused when that cannot be done.
   */
  restorePermit(
    p: TemporaryPermit,
    ttlSeconds: number,
    reason: string,
    revoked?: RevokedPermit,
  ): Promise<void>;
}

/**
 * Which of the kernel's sets held a revoked permit: `permits_scoped` (the gateway judges each request by its
 * scope) or `permits` (plain, past the gateway); a scoped one's scope as recorded, when it could be read. Opaque
 * here (enforce's PermitScope): the playbook action keeps it in its details for the undo.
 */
export interface RevokedPermit {
  set: 'permits_scoped' | 'permits';
  scope?: Readonly<Record<string, unknown>>;
}

/** An undo that would put a permit back wider than it was revoked (a scoped one without its scope). */
export class RestoreRefused extends Error {}

export const permitName = (
  p: Pick<TemporaryPermit, 'client' | 'server' | 'transport' | 'port'>,
): string => `${p.client} → ${p.server} ${p.transport}/${p.port}`;
