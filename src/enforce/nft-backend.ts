import { dropsSinceApply, readConntrack } from './conntrack-load.js';
import { canonicalIp } from '../policy/hosts.js';
import type {
  BlockResult,
  EnforcementBackend,
  HostStatus,
  PermitFlow,
  PermitResult,
  PermitScope,
  RevokedPermit,
  TemporaryPermit,
  UnblockResult,
  ApplyRequest,
} from './backend.js';
import { applyEnforcement, type ApplyOutcome } from './apply.js';
import {
  blockSource,
  listPermits,
  listPermitSet,
  permitFlow,
  loadedDigest,
  loadedObjects,
  removeRuleset,
  revokeFlow,
  statusOf,
  unblockSource,
  unsteer,
  blockSetOf,
  permitSetOf,
  permitsIn,
  type DynamicSet,
  type NftTarget,
} from './nft.js';
import {
  addPlain,
  addScope,
  PermitRecords,
  plainRevoked,
  recordsSetAside,
  revokePlain,
  revokeScope,
  scopeOf,
  type ScopedPermitRecord,
} from './permit-scopes.js';
import { RestoreRefused } from '../respond/playbook-kernel.js';
import { TABLE } from './nft-ruleset.js';
import { NftSession } from './nft-session.js';
import { gatewayState, readApplied, writeApplied } from './state.js';

export interface NftBackendOptions {
  /**
   * Write blocks and permits through one long-lived `nft -i` (about a millisecond each, against tens for a new
   * nft process): for the playbooks, where detection → kernel block is the measure. Call close() when done.
   */
  persistent?: boolean;
  now?: () => number;
}

/**
 * Enforcement by nftables on this host (optionally inside a network namespace), with the protocol gateway
 * that the ruleset steers to: the apply path switches a running gateway first, and the state folder records
 * what the host runs, for the gateway, `enforce status` and the dashboard.
 */
export class NftBackend implements EnforcementBackend {
  readonly name = 'nftables';
  private readonly now: () => number;
  private readonly session: NftSession | null;
  private readonly records: PermitRecords;

  constructor(
    readonly target: NftTarget,
    /** Runtime state of this enforcement host (applied policy, gateway health). */
    readonly stateDir: string,
    o: NftBackendOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.session = o.persistent === true ? new NftSession(target) : null;
    this.records = new PermitRecords(stateDir);
    // Start nft now, so the first block does not wait for it to start.
    void this.session?.run('list tables').catch(() => undefined);
  }

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

  unsteer(): number {
    return unsteer(this.target);
  }

  async block(address: string, ttlSeconds: number, comment = ''): Promise<BlockResult> {
    checkTtl(ttlSeconds);
    address = hostIp(address);
    if (this.session !== null)
      await this.session.run(
        `add element ${this.set(blockSetOf(address))} { ${address} timeout ${ttlSeconds}s }`,
      );
    else blockSource(this.target, address, ttlSeconds);
    return { address, ttlSeconds, until: this.seconds() + ttlSeconds, comment };
  }

  async unblock(address: string, comment = ''): Promise<UnblockResult> {
    address = hostIp(address);
    if (this.session !== null)
      await this.session.run(`delete element ${this.set(blockSetOf(address))} { ${address} }`);
    else unblockSource(this.target, address);
    return { address, comment };
  }

  async permit(
    flow: PermitFlow,
    ttlSeconds: number,
    comment = '',
    scope?: PermitScope,
  ): Promise<PermitResult> {
    checkTtl(ttlSeconds);
    const f = flowOf(flow);
    const until = this.seconds() + ttlSeconds;
    // The gateway learns the scope before the kernel lets the flow in, so no request passes unjudged by it: a
    // scope that cannot be recorded refuses the permit (the gateway could not honour it anyway).
    let recordFault: PermitResult['recordFault'];
    if (scope !== undefined) {
      const c = addScope(
        this.stateDir,
        { ...scope, flow: f, until, grantedAt: this.seconds() },
        this.seconds(),
      );
      if (c.setAside !== null) recordFault = setAsideFault(c.setAside);
    } else {
      // A permit without one is recorded first too, so whoever reads the records (the playbooks) never misses
      // it. But it is the emergency path: a fault of our own disk does not refuse it (the playbooks' permit
      // view lists the kernel too, within seconds); the caller says it loudly.
      try {
        const c = addPlain(
          this.stateDir,
          { flow: f, until, grantedAt: this.seconds() },
          this.seconds(),
        );
        if (c.setAside !== null) recordFault = setAsideFault(c.setAside);
      } catch (err) {
        recordFault = {
          unrecorded: true,
          message: `NOT RECORDED in ${this.stateDir} (${(err as Error).message}): the kernel holds the permit, but Weir's records do not; playbooks that block on forgeable signals learn of it only from the kernel's listing, within ${RELIST_S} s`,
        };
      }
    }
    // Scoped permits (from templates, IPv4) have a set of their own; others one per address family.
    const set: DynamicSet = scope !== undefined ? 'permits_scoped' : permitSetOf(f.client);
    // A permit given again for the same flow takes its new time: nft would keep the old element's timeout.
    if (scope !== undefined) await this.dropElement(set, f).catch(() => undefined);
    if (this.session !== null)
      await this.session.run(
        `add element ${this.set(set)} { ${elementOf(f)} timeout ${ttlSeconds}s }`,
      );
    else permitFlow(this.target, f, ttlSeconds, scope !== undefined);
    return { flow: f, ttlSeconds, until, comment, ...(recordFault ? { recordFault } : {}) };
  }

  async permits(): Promise<TemporaryPermit[]> {
    const plain = await listPermits(this.target);
    // A ruleset loaded before scoped permits existed has no such set: it holds none.
    const scoped = await listPermitSet(this.target, 'permits_scoped').catch(() => []);
    return [...plain, ...scoped];
  }

  grantedPermits(): TemporaryPermit[] {
    const now = this.now() / 1000;
    return this.records.live(now).map((r) => ({
      ...r.flow,
      expiresIn: Math.max(0, Math.ceil(r.until - now)),
    }));
  }

  async revokePermit(p: PermitFlow, comment = ''): Promise<RevokedPermit> {
    const f = flowOf(p);
    // The gateway stops honouring the scope at once, whatever happens to the kernel element.
    let rec: ScopedPermitRecord | null = null;
    let plain = false;
    let fault: Error | null = null;
    try {
      rec = revokeScope(this.stateDir, f, comment || 'revoked', this.seconds());
      if (rec === null) plain = revokePlain(this.stateDir, f, comment || 'revoked', this.seconds());
    } catch (err) {
      fault = err as Error;
      // Unmarked (a full or read-only folder) but perhaps readable: the scope, for the undo.
      rec ??= scopeOf(this.stateDir, f);
    }
    // A revocation is never held up by our own disk: the kernel element goes whatever the records say. With no
    // record to tell which set holds it, from both; the kernel's answer says which did (the undo needs it).
    let set: RevokedPermit['set'];
    if (fault === null && (rec !== null || plain)) {
      set = rec !== null ? 'permits_scoped' : 'permits';
      await this.dropElement(set === 'permits' ? permitSetOf(f.client) : set, f);
    } else {
      const [s, pl] = await Promise.allSettled([
        this.dropElement('permits_scoped', f),
        this.dropElement(permitSetOf(f.client), f),
      ]);
      if (s.status === 'rejected' && pl.status === 'rejected') throw pl.reason as Error;
      set = s.status === 'fulfilled' ? 'permits_scoped' : 'permits';
    }
    if (fault !== null)
      process.stderr.write(
        `weir: permit ${f.client} → ${f.server} ${f.transport}/${f.port} withdrawn from the kernel, but its record in ${this.stateDir} could not be marked: ${fault.message}\n`,
      );
    return set === 'permits_scoped' && rec !== null
      ? { set, scope: { ...scopeFields(rec) } }
      : { set };
  }

  private async dropElement(set: DynamicSet, f: PermitFlow): Promise<void> {
    if (this.session !== null)
      await this.session.run(`delete element ${this.set(set)} { ${elementOf(f)} }`);
    else revokeFlow(this.target, f, set === 'permits_scoped');
  }

  async restorePermit(
    p: PermitFlow,
    ttlSeconds: number,
    comment = '',
    revoked?: RevokedPermit,
  ): Promise<void> {
    // A permit restored keeps the rule of every permit: it lapses by itself (at least a second); a scoped
    // one comes back with its scope, never wider: a plain permit passes the gateway, straight to the PLC.
    const f = flowOf(p);
    const name = `${f.client} → ${f.server} ${f.transport}/${f.port}`;
    let scope: PermitScope | undefined;
    if (revoked?.set !== 'permits') {
      const rec = scopeOf(this.stateDir, f);
      scope =
        (revoked?.scope as PermitScope | undefined) ??
        (rec !== null && rec.revokedAt !== undefined ? scopeFields(rec) : undefined);
      if (scope === undefined && revoked?.set === 'permits_scoped')
        throw new RestoreRefused(
          `the permit ${name} was scoped (the gateway judged its requests) and its scope cannot be read from ${this.stateDir}: it is not put back as a plain permit, which would pass the gateway; grant it again from its template`,
        );
      // Not told which set held it (an action recorded by an older build): only what the records show.
      if (scope === undefined && revoked === undefined && !plainRevoked(this.stateDir, f))
        throw new RestoreRefused(
          `the records in ${this.stateDir} do not show whether the permit ${name} was scoped: it is not put back, lest a scoped permit return plain; grant it again`,
        );
    }
    const r = await this.permit(f, Math.max(1, Math.floor(ttlSeconds)), comment, scope);
    if (r.recordFault)
      process.stderr.write(`weir: permit ${name} restored: ${r.recordFault.message}\n`);
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
    const applied = readApplied(this.stateDir);
    const ct = s.loaded ? readConntrack(this.target.netns) : null;
    return {
      ...s,
      digest: loadedDigest(objs),
      applied,
      gateway,
      uninspected,
      ...this.recordsStatus(objs),
      // The kernel counts drops since it started; what matters is since this policy went in.
      conntrack: ct && { ...ct, dropped: dropsSinceApply(ct, applied) },
    };
  }

  /** The kernel's permits that the records lack, and what is wrong with the records (for status). */
  private recordsStatus(
    objs: Parameters<typeof permitsIn>[0],
  ): Pick<HostStatus, 'unrecordedPermits' | 'permitRecords'> {
    const problems = recordsSetAside(this.stateDir).map(
      (a) => `permit records that could not be parsed were set aside: ${a}`,
    );
    let recorded: TemporaryPermit[];
    try {
      recorded = this.grantedPermits();
    } catch (err) {
      problems.unshift(`permit records unreadable: ${(err as Error).message}`);
      return { permitRecords: problems };
    }
    const key = (p: PermitFlow): string =>
      `${canonicalIp(p.client) ?? p.client} → ${canonicalIp(p.server) ?? p.server} ${p.transport}/${p.port}`;
    const known = new Set(recorded.map(key));
    return {
      unrecordedPermits: permitsIn(objs)
        .map(key)
        .filter((k) => !known.has(k)),
      ...(problems.length ? { permitRecords: problems } : {}),
    };
  }

  close(): void {
    this.session?.close();
  }

  private set(name: DynamicSet): string {
    return `${this.target.family} ${TABLE} ${name}`;
  }

  private seconds(): number {
    return Math.floor(this.now() / 1000);
  }
}

const scopeFields = (r: ScopedPermitRecord): PermitScope => ({
  group: r.group,
  user: r.user,
  directory: r.directory,
  template: r.template,
});

/** How often, at most, the playbooks' permit view lists the kernel (respond/permit-view.ts), in seconds. */
const RELIST_S = 10;

const setAsideFault = (aside: string): NonNullable<PermitResult['recordFault']> => ({
  unrecorded: false,
  message: `the permit records could not be parsed and were set aside as ${aside} (the permits in it stay in the kernel until they lapse; the playbooks learn of them from the kernel's listing)`,
});

/** A block or permit lapses by itself: a timeout of zero or less (or none) would make it forever. */
function checkTtl(ttl: number): void {
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new Error(`a timeout is a whole number of seconds, at least 1, not ${ttl}`);
}

/**
 * The sets hold IPv4 and IPv6 host addresses, spelled as nft lists them back; anything else would reach an nft
 * command line.
 */
function hostIp(a: string): string {
  const c = typeof a === 'string' ? canonicalIp(a) : null;
  if (c === null) throw new Error(`'${String(a)}' is not an IPv4 or IPv6 address`);
  return c;
}

/** Only the flow's own fields, checked: a listed permit carries more (its time left). */
function flowOf(p: PermitFlow): PermitFlow {
  const port = Number(p.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`'${String(p.port)}' is not a port`);
  if (p.transport !== 'tcp' && p.transport !== 'udp')
    throw new Error(`'${String(p.transport)}' is not tcp or udp`);
  const client = hostIp(p.client),
    server = hostIp(p.server);
  if (client.includes(':') !== server.includes(':'))
    throw new Error(`a permit joins two addresses of one family, not ${client} and ${server}`);
  return { client, server, transport: p.transport, port };
}

const elementOf = (f: PermitFlow): string =>
  `${f.client} . ${f.server} . ${f.transport} . ${f.port}`;
