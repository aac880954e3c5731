/**
 * What a playbook needs of the enforcement host, and nothing more: the runner and undo speak only to this, so
 * the host's backend (nftables here, another enforcement backend later) is one object handed in at the edge.
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
  /** Drop everything from and to `address` for `ttlSeconds`, now. Resolves once the kernel holds it. */
  block(address: string, ttlSeconds: number, reason: string): Promise<void>;
  unblock(address: string, reason: string): Promise<void>;
  /** Temporary permits (`weir permit`) in force now. */
  permits(): Promise<TemporaryPermit[]>;
  revokePermit(p: TemporaryPermit, reason: string): Promise<void>;
  restorePermit(p: TemporaryPermit, ttlSeconds: number, reason: string): Promise<void>;
}

export const permitName = (
  p: Pick<TemporaryPermit, 'client' | 'server' | 'transport' | 'port'>,
): string => `${p.client} → ${p.server} ${p.transport}/${p.port}`;
