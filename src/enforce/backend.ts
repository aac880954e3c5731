import type { ConntrackLoad } from './conntrack-load.js';
import type { EnforcementStatus } from './nft.js';
import type { ApplyOutcome, ApplyRequest, ApplySource } from './apply.js';
import type { AppliedPolicy, GatewayState } from './state.js';
import type { PlaybookKernel, RevokedPermit, TemporaryPermit } from '../respond/playbook-kernel.js';
import type { ContextGroup } from '../policy/model.js';

/**
 * The one contract every enforcement host answers to: the CLI, the gateway, playbooks, fleet nodes and tests
 * call these and nothing below them. One implementation per way of enforcing (nftables on this host today;
 * a fleet node relaying to its site, a test double), chosen where the caller is wired (cli/enforcement.ts).
 *
 * It is a `PlaybookKernel` too: the playbook runner and its undo (respond/, which may not import enforce/) take
 * that narrow part of this contract, so a backend is handed to them as it is, with nothing in between.
 *
 * Every method either does what it says and returns what was done, or throws (rejects with) an Error naming
 * why the host refused; callers audit both outcomes. What changes the kernel's sets is asynchronous, so a
 * backend may write through a persistent process (the playbooks' latency path); remove and status are not.
 */
export interface EnforcementBackend extends PlaybookKernel {
  /** What enforces, for audit subjects and messages ('nftables'). */
  readonly name: string;
  /** Load a policy so that the kernel and any running gateway enforce the same one (or only compile it: dryRun). */
  apply(req: ApplyRequest): Promise<ApplyOutcome>;
  /** Remove everything this backend loaded: traffic flows as before enforcement. False when nothing was loaded. */
  remove(actor: string): boolean;
  /**
   * Stop steering traffic to the gateway now (its leases dropped; allowlists and blocks stay): the service
   * manager's stop/failure hook, so plant traffic passes while the gateway is down. Returns the leases held.
   */
  unsteer(): number;
  /** Drop everything from and to an address, now, for `ttlSeconds`; it lapses by itself. */
  block(address: string, ttlSeconds: number, comment?: string): Promise<BlockResult>;
  /** Lift a block before its time runs out. */
  unblock(address: string, comment?: string): Promise<UnblockResult>;
  /**
   * Let one flow through for `ttlSeconds` whatever the policy says (maintenance, a vendor's session). With a
   * `scope` (a permit from a template, for a person a directory vouched for) the flow is let through only as
   * far as the scope's group allows: the gateway still judges each request by it.
   */
  permit(
    flow: PermitFlow,
    ttlSeconds: number,
    comment?: string,
    scope?: PermitScope,
  ): Promise<PermitResult>;
  /** The temporary permits in force now, with the seconds each has left. */
  permits(): Promise<TemporaryPermit[]>;
  /** Withdraw one temporary permit before its time runs out (a playbook's revoke_permits); says which set held it. */
  revokePermit(p: PermitFlow, comment?: string): Promise<RevokedPermit | void>;
  /** Put a revoked permit back for `ttlSeconds`, as it was revoked, never wider (a playbook action undone). */
  restorePermit(
    p: PermitFlow,
    ttlSeconds: number,
    comment?: string,
    revoked?: RevokedPermit,
  ): Promise<void>;
  /** What the host runs now: rules, blocks, permits, counters, gateway, and the policy applied. */
  status(): HostStatus;
  /** Let go of what the backend holds open (a persistent nft process); it may be used again afterwards. */
  close(): void;
}

export interface BlockResult {
  address: string;
  ttlSeconds: number;
  /** Epoch seconds at which the block lapses. */
  until: number;
  comment: string;
}

export interface UnblockResult {
  address: string;
  comment: string;
  /**
   * At a fleet site: the other origins (the manager, other sites) whose live blocks of the address keep it in
   * this site's kernel; only this site's own entry was lifted. Absent: lifted here.
   */
  keptBy?: string[];
}

export interface PermitFlow {
  client: string;
  server: string;
  transport: 'tcp' | 'udp';
  port: number;
}

export interface PermitResult {
  flow: PermitFlow;
  ttlSeconds: number;
  until: number;
  comment: string;
  /**
   * Granted, but Weir's record of it was not written (a full or read-only state folder) or the records file
   * could not be parsed and was set aside: what happened, for the output and the audit.
   */
  recordFault?: { unrecorded: boolean; message: string };
}

export interface HostStatus extends EnforcementStatus {
  /** Digest of what is loaded (null: nothing), to compare with the applied record's rulesetDigest. */
  digest: string | null;
  /** The policy last applied on this host (with when and by whom it was removed, if it was). */
  applied: AppliedPolicy | null;
  /** The gateway as it acts on traffic: a record that says up while no lease is held counts as down. */
  gateway: GatewayState;
  /** Steering is set up but no gateway holds a lease: steered traffic passes uninspected now. */
  uninspected: boolean;
  /** The connection-tracking table replies depend on (drops counted since the policy was applied); null: unread. */
  conntrack: ConntrackLoad | null;
  /**
   * Permits the kernel holds that Weir's records lack (their record could not be written), as `a → b tcp/502`;
   * absent when the records cannot be read (then `permitRecords` says why).
   */
  unrecordedPermits?: string[];
  /** What is wrong with the permit records: unreadable, or files set aside. */
  permitRecords?: string[];
}

export type { ApplyOutcome, ApplyRequest, ApplySource, RevokedPermit, TemporaryPermit };

/**
 * What a scoped permit lets through beyond its flow: the functions and registers of the template it came from,
 * and who it was given to. The kernel holds the flow (set `permits_scoped`, with its timeout) and steers it to
 * the gateway as usual; the gateway reads these records from the state folder and judges each request of the
 * flow by the permit's group. A record outlives its kernel element only until it is pruned.
 */
export interface PermitScope {
  /** The context group the permit amounts to (one client, one server). */
  group: ContextGroup;
  /** Who it was given to, and by which directory and template: the gateway's log lines carry it. */
  user: string;
  directory: string;
  template: string;
}
