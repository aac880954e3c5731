import { parsePolicy } from '../policy/load.js';
import { policyHashes } from '../respond/change-control.js';
import { CompiledPolicy } from '../policy/evaluate.js';
import { enforcementPlan } from '../enforce/steer.js';
import { Gateway } from '../enforce/gateway/gateway.js';
import { EventLog } from '../enforce/gateway/event-log.js';
import { SteeringHeartbeat } from '../enforce/gateway/heartbeat.js';
import type { DenyMode } from '../enforce/gateway/inspector.js';
import type { NftFamily } from '../enforce/nft-ruleset.js';
import { readApplied, writeHealth, type GatewayHealth } from '../enforce/state.js';
import { SystemdNotifier } from './sd-notify.js';
import { ScopeReader } from '../enforce/permit-scopes.js';
import { legacyAddressWarnings } from '../policy/legacy-addresses.js';
import type { Policy } from '../policy/model.js';

export interface GatewayRun {
  listen: string;
  family: NftFamily;
  stateDir: string;
  deny: DenyMode;
  budgetMicros: number;
  log: string | null;
  logMaxBytes: number;
  rate: number;
  /** A refused request costs this many allowed ones. */
  refusalCost: number;
  /** Heartbeat: how long one renewal keeps the steering, and how often it is renewed. */
  leaseMs: number;
  heartbeatMs: number;
  /** Log lines per second per event kind and client; seconds of quiet that close a fail-open window. */
  logLinesPerSecond: number;
  failOpenQuietSeconds: number;
  /** Idle connections are closed after this many seconds; a client may hold this many at once. */
  idleSeconds: number;
  perClientConnections: number;
  /** Connections at once, all clients together (within the descriptor limit). */
  maxConnections: number;
  /** Inspection time (µs) one request includes; beyond, the client is charged for the time. */
  requestMicros: number;
  /** Where the policy comes from: a loader called at start and on every reload (SIGHUP). */
  load: () => { text: string; source: string; sha: string };
  fault?: () => void;
  /** The test switch `--inject-fault` behind `fault`, kept in the health record so status pages show it. */
  testFault?: string;
  /** Events of permitted connections (refused requests, ends), for the audit log under the person's name. */
  permitEvents?: (event: Record<string, unknown>) => void;
}

/** The policy `enforce apply` last loaded into the kernel (the gateway's default source). */
export function appliedSource(
  stateDir: string,
): () => { text: string; source: string; sha: string } {
  return () => {
    const a = readApplied(stateDir);
    if (a === null)
      throw new Error(
        `nothing applied yet (no ${stateDir}/applied.json): run \`weir enforce apply\` first`,
      );
    return { text: a.text, source: a.source, sha: a.sha };
  };
}

function compile(
  src: { text: string; source: string; sha: string },
  log: EventLog,
): CompiledPolicy {
  const r = parsePolicy(src.text, src.source);
  if (!r.ok) throw new Error(`${src.source} is not a valid policy`);
  if (policyHashes(r.policy, src.text).sha !== src.sha)
    throw new Error(`${src.source}: text does not match its hash`);
  logUpgradeWarnings(r.policy, src.sha, log);
  return new CompiledPolicy(r.policy);
}

/** Addresses in an older build's forms are judged the new way from now on: said at start and reload (review 14b, F2). */
function logUpgradeWarnings(p: Policy, sha: string, log: EventLog): void {
  const warnings = legacyAddressWarnings(p);
  if (warnings.length > 0)
    log.write({ event: 'policy_upgrade_warning', policy: sha.slice(0, 12), warnings });
}

/**
 * Run the gateway until SIGTERM/SIGINT: listen, renew the kernel steering leases, keep the health record, reload
 * the policy on SIGHUP. Any fault of its own ends steering at once (traffic goes direct, kernel rules stay) and
 * is recorded; a crash it cannot catch ends it one lease later.
 */
export async function runGateway(o: GatewayRun): Promise<void> {
  const log = new EventLog({
    file: o.log,
    maxBytes: o.logMaxBytes,
    perKeyPerSecond: o.logLinesPerSecond,
  });
  let src = o.load();
  let onExhausted: (reason: string) => void = () => undefined;
  const targetsOf = (cp: CompiledPolicy) => enforcementPlan(cp, o.listen).targets;
  const gw = new Gateway({
    policy: compile(src, log),
    targetsOf,
    listenIp: o.listen,
    deny: o.deny,
    budgetMicros: o.budgetMicros,
    throttle: {
      rate: o.rate,
      burst: o.rate * 2,
      refusalCost: o.refusalCost,
      requestMicros: o.requestMicros,
    },
    failOpenQuietSeconds: o.failOpenQuietSeconds,
    idleSeconds: o.idleSeconds,
    perClientConnections: o.perClientConnections,
    maxConnections: o.maxConnections,
    // Set once `die` exists below. Exhaustion despite the connection limits is our own fault, handled like any
    // other; clients filling the gateway up to those limits are shed by the gateway itself.
    onExhausted: (reason) => onExhausted(reason),
    log: (e) => {
      log.write(e);
      if (e.user !== undefined) o.permitEvents?.(e);
    },
    fault: o.fault,
    // Permits from templates (`weir permit-request`, the portal) are recorded beside the applied policy.
    permits: new ScopeReader(o.stateDir),
  });
  let steering: GatewayHealth['steering'] = { ok: false, error: 'starting' };
  const beat = new SteeringHeartbeat({
    family: o.family,
    leaseMs: o.leaseMs,
    intervalMs: o.heartbeatMs,
    onResult: (ok, error) => {
      if (ok !== steering.ok)
        log.write({ event: ok ? 'steering_renewed' : 'steering_failed', error });
      steering = { ok, error };
    },
  });
  const started = new Date().toISOString();
  let reloads = 0;
  let reloadError: string | null = null;
  const health = (extra: Partial<GatewayHealth> = {}): void => {
    try {
      writeHealth(o.stateDir, {
        pid: process.pid,
        startedAt: started,
        beatAt: new Date().toISOString(),
        listen: o.listen,
        policySha: src.sha,
        policySource: src.source,
        targets: gw.targets.map((t) => ({
          server: t.server,
          port: t.port,
          protocol: t.protocol,
          listenPort: t.listenPort,
        })),
        steering,
        reloads,
        reloadError,
        stats: { ...gw.stats },
        failOpenOpen: gw.windows.count,
        log: log.health,
        ...(o.testFault !== undefined ? { testFault: o.testFault } : {}),
        ...extra,
      });
    } catch {
      /* the record is best effort; the kernel leases are what steer */
    }
  };
  const leases = (): void =>
    beat.set(gw.targets.map((t) => ({ server: t.server, port: t.port, listenPort: t.listenPort })));

  const die = (reason: string): void => {
    // Our own fault: stop steering now rather than one lease later, say so, and exit for the supervisor.
    beat.stop();
    log.write({
      event: 'gateway_fault',
      reason,
      action: 'steering removed: traffic passes uninspected until the gateway is back',
    });
    health({ stoppedAt: new Date().toISOString(), stopReason: `fault: ${reason}` });
    process.exit(70);
  };
  onExhausted = (reason) => die(`exhausted: ${reason}`);
  process.on('uncaughtException', (err) => die(err.stack ?? err.message));
  process.on('unhandledRejection', (err) => die(String(err)));

  await gw.start();
  leases();
  beat.start();
  const timer = setInterval(() => health(), 250);
  health();
  // Under systemd (Type=notify): ready once listening and steering; the watchdog pings come from this event
  // loop, so a hung or starved gateway is restarted (its leases have lapsed by then: traffic went direct).
  const sd = SystemdNotifier.fromEnv();
  sd?.ready(`gateway on ${o.listen}, ${gw.targets.length} steered server port(s)`);
  sd?.startWatchdog(() => true);
  process.on('SIGHUP', () => {
    void (async () => {
      try {
        const next = o.load();
        await gw.reload(compile(next, log));
        src = next;
        reloadError = null;
        leases();
      } catch (err) {
        reloadError = (err as Error).message;
        log.write({ event: 'reload_failed', error: reloadError, keeping: src.sha.slice(0, 12) });
      }
      reloads++;
      health();
    })();
  });
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  sd?.stopping(`stopping (${signal}): steering removed`);
  clearInterval(timer);
  beat.stop();
  await gw.stop();
  log.write({ event: 'gateway_stopped', signal });
  health({ stoppedAt: new Date().toISOString(), stopReason: `stopped (${signal})` });
  log.close();
  sd?.close();
}
