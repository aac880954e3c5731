import type { EnforcementStatus } from './nft.js';
import type { ApplyOutcome, ApplySource } from './apply.js';
import type { AppliedPolicy, GatewayState } from './state.js';

/**
 * The one contract every enforcement host answers to: the CLI, the gateway, playbooks, fleet nodes and tests
 * call these and nothing below them. One implementation per way of enforcing (nftables on this host today;
 * a fleet node relaying to its site, a test double), chosen where the caller is wired (cli/enforcement.ts).
 *
 * Every method either does what it says and returns what was done, or throws an Error naming why the host
 * refused; callers audit both outcomes. Only apply is asynchronous (it waits for a running gateway to switch).
 */
export interface EnforcementBackend {
  /** What enforces, for audit subjects and messages ('nftables'). */
  readonly name: string;
  /** Load a policy so that the kernel and any running gateway enforce the same one (or only compile it: dryRun). */
  apply(req: ApplyRequest): Promise<ApplyOutcome>;
  /** Remove everything this backend loaded: traffic flows as before enforcement. False when nothing was loaded. */
  remove(actor: string): boolean;
  /** Drop everything from and to an address, now, for `ttlSeconds`; it lapses by itself. */
  block(address: string, ttlSeconds: number, comment?: string): BlockResult;
  /** Lift a block before its time runs out. */
  unblock(address: string, comment?: string): UnblockResult;
  /** Let one flow through for `ttlSeconds` whatever the policy says (maintenance, a vendor's session). */
  permit(flow: PermitFlow, ttlSeconds: number, comment?: string): PermitResult;
  /** What the host runs now: rules, blocks, permits, counters, gateway, and the policy applied. */
  status(): HostStatus;
}

export interface ApplyRequest {
  source: ApplySource;
  /** Who applies it (recorded with the applied policy). */
  actor: string;
  /** Steer protocol traffic of enforced servers to a gateway at this address; null: no gateway. */
  gatewayIp: string | null;
  /** The bridge's MAC, asked only when steering in the bridge family needs it. */
  bridgeMac: () => string;
  /** Accept that protocol groups without a gateway are enforced by client, server and port only. */
  portLevelOk: boolean;
  dryRun: boolean;
  /** How long a running gateway may take to switch to the new policy. */
  reloadTimeoutMs?: number;
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
}

export type { ApplyOutcome, ApplySource };
