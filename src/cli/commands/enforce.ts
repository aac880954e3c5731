import { bridgeMac } from '../../enforce/bridge-mac.js';
import { NOT_FILTERED } from '../../enforce/nft-layer2.js';
import { Option, type Command } from 'commander';
import type { Db } from '../../store/db.js';
import { humanDuration, parseDuration } from '../../policy/load.js';
import type { DenyMode } from '../../enforce/gateway/inspector.js';
import {
  DEFAULT_STATE_DIR,
  describeGateway,
  processAlive,
  readApplied,
  windowsNotice,
  readHealth,
  writeHealth,
  type AppliedPolicy,
} from '../../enforce/state.js';
import { bridgeAddresses, hostNeverBlock } from '../../enforce/host-addresses.js';
import { conntrackNotice } from '../../enforce/conntrack-load.js';
import { neverBlockRefusal, zoneSubnets } from '../../respond/playbook-guard.js';
import { activePolicy } from '../../respond/change-control.js';
import { canonicalIp } from '../../policy/hosts.js';
import type { ApplySource } from '../../enforce/backend.js';
import { enforcementBackend, familyOf, type TargetOpts } from '../enforcement.js';
import { cliSettings } from '../settings.js';
import { appliedSource, runGateway } from '../gateway-runner.js';
import { enforceablePolicy } from '../../respond/enforceable.js';
import { describeCuts, guardBlock } from '../../respond/block-impact.js';
import { openExistingStore, withIdentity, type IdentityOpts } from '../identity.js';
import { auditEnforcement, carryOut, proveEnforcer } from '../enforcer.js';
import { readPolicyFile } from './policy.js';
import { storeLooseReversePath } from '../change-rules.js';
import { openStore } from '../../store/db.js';
import { appendAudit } from '../../store/audit-store.js';
import { PermitRefusalAudit } from '../../permit/refusal-audit.js';
import { legacyAddressWarnings } from '../../policy/legacy-addresses.js';
import { parsePolicy } from '../../policy/load.js';

type EnforceOpts = TargetOpts & IdentityOpts & { db?: string };

function withStore<T>(path: string, fn: (db: Db) => T): T {
  const db = openExistingStore(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/**
 * The policy to enforce, with its text and hash: the store's active (approved) policy, or a file — in enforce
 * mode only if it is that policy (one gate for the kernel and the gateway).
 */
function policyFrom(o: { policy?: string; db?: string }): ApplySource {
  const file = o.policy ? { text: readPolicyFile(o.policy).text, source: o.policy } : null;
  const db = o.db ? openExistingStore(o.db) : null;
  try {
    const e = enforceablePolicy(db, file);
    return {
      policy: e.policy,
      text: e.text,
      source: file?.source ?? `${o.db} (active policy)`,
      sha: e.sha,
    };
  } finally {
    db?.close();
  }
}

/** Audit an enforcement action in the store, by the person proven at the start of the command. */
function audit(o: object, action: string, subject: string, details: Record<string, unknown>): void {
  auditEnforcement(o, action, subject, details);
}

/** What the stealth bridge carries now (null: not in stealth, or the bridge is gone). */
function stealthAddresses(
  on: boolean,
  applied: AppliedPolicy | null,
  netns?: string,
): string[] | null {
  const bridge = applied?.stealth?.bridge;
  if (!on || bridge === undefined) return null;
  try {
    return bridgeAddresses(bridge, netns ?? applied?.netns);
  } catch {
    return null;
  }
}

/** One status line: stealth off, on and holding, or broken because the bridge has gained an address. */
function describeStealth(
  st: { on: boolean; heldBack: number },
  applied: AppliedPolicy | null,
  netns?: string,
): string {
  if (!st.on) return 'stealth: off';
  const bridge = applied?.stealth?.bridge ?? '(unknown bridge)';
  const addrs = stealthAddresses(true, applied, netns);
  const held = `${st.heldBack} frame(s) of the host's own held back`;
  if (addrs === null) return `stealth: on, but bridge ${bridge} cannot be read; ${held}`;
  if (addrs.length > 0)
    return `stealth: on, BROKEN: bridge ${bridge} carries ${addrs.join(', ')} (the host still sends nothing on it); ${held}`;
  return `stealth: on (bridge ${bridge} carries no address; ${held})`;
}

/** Addresses of the applied policy in an older build's forms (review 14b, F2); an unreadable text names none. */
function appliedUpgradeWarnings(applied: AppliedPolicy | null): string[] {
  if (applied === null || applied.removedAt !== undefined) return [];
  const r = parsePolicy(applied.text, applied.source);
  return r.ok ? legacyAddressWarnings(r.policy) : [];
}

/** A numeric option given on the command line, or undefined to take the setting. */
function positive(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} takes a positive number, not '${v}'`);
  return n;
}

const ttlOf = (s: string): number => {
  if (!/^[0-9]+[smhdw]?$/.test(s))
    throw new Error(`--ttl: '${s}' is not a duration like 90s, 10m, 4h`);
  return parseDuration(/[smhdw]$/.test(s) ? s : Number(s));
};

export function registerEnforce(program: Command): void {
  const withTarget = (c: Command): Command =>
    c
      .option(
        '--family <family>',
        'bridge (the host bridges plant segments) or inet (it routes)',
        'bridge',
      )
      .option('--netns <name>', 'apply inside this network namespace');
  const enforce = program
    .command('enforce')
    .description('nftables enforcement of the zones in simulate and enforce mode');

  withIdentity(withTarget(enforce.command('apply')))
    .description(
      'compile the policy and load it atomically; a running gateway switches to it first (unchanged rulesets are left alone)',
    )
    .option('--policy <file>', 'policy file (default: the active policy in --db)')
    .option(
      '--db <db>',
      'store with the active policy; the apply is audited there (required, except for --dry-run)',
    )
    .option(
      '--gateway-ip <ip>',
      'steer protocol traffic of enforced servers to the gateway at this address',
    )
    .option('--bridge <iface>', 'bridge the gateway listens on (bridge family)', 'br0')
    .option(
      '--port-level-ok',
      'without --gateway-ip: accept that protocol groups are enforced by client, server and port only',
    )
    .option(
      '--state-dir <dir>',
      'runtime state of this enforcement host (applied policy, gateway health)',
      DEFAULT_STATE_DIR,
    )
    .option('--dry-run', 'print the nftables JSON instead of loading it')
    .option(
      '--stealth',
      'sensor-only stealth (default: enforce.stealth in the settings): the bridge carries no address and the host sends nothing on it',
    )
    .action(
      async (
        o: TargetOpts &
          IdentityOpts & {
            policy?: string;
            db?: string;
            gatewayIp?: string;
            bridge: string;
            portLevelOk?: boolean;
            stateDir: string;
            dryRun?: boolean;
            stealth?: boolean;
          },
      ) => {
        const caller = o.dryRun ? null : await proveEnforcer(o, 'enforce apply');
        // The reverse-path mode is the store's rule, not the caller's settings file (review 14 C1).
        const loose =
          o.db === undefined
            ? cliSettings().enforce.loose_reverse_path
            : withStore(o.db, (db) => storeLooseReversePath(db, o.db!));
        const backend = enforcementBackend(o, loose);
        const src = policyFrom(o);
        let out;
        try {
          out = await backend.apply({
            source: src,
            actor: caller?.name ?? 'dry run',
            gatewayIp: o.gatewayIp ?? null,
            bridgeMac: () => bridgeMac(o.bridge, o.netns),
            portLevelOk: o.portLevelOk === true,
            dryRun: o.dryRun === true,
            ...(o.stealth === true || cliSettings().enforce.stealth
              ? {
                  stealth: {
                    bridge: o.bridge,
                    addresses: () => bridgeAddresses(o.bridge, o.netns),
                  },
                }
              : {}),
          });
        } catch (err) {
          // A failed apply is audited too (what the host then runs is in the message: the apply puts back what it can).
          if (caller !== null)
            audit(o, 'enforcement.applied.failed', backend.name, {
              policy: src.sha.slice(0, 12),
              error: (err as Error).message,
            });
          throw err;
        }
        const rs = out.ruleset;
        for (const w of rs.warnings) process.stderr.write(`warning: ${w}\n`);
        // Addresses in an older build's forms: refused now where they passed, unsimulated (review 14b, F2).
        const upgrade = legacyAddressWarnings(src.policy);
        for (const w of upgrade) process.stderr.write(`upgrade: ${w}\n`);
        if (o.dryRun) {
          process.stdout.write(`${JSON.stringify(rs.json, null, 1)}\n`);
          return;
        }
        const r = out.result!;
        const steered = out.plan.targets.length;
        audit(o, 'enforcement.applied', backend.name, {
          policy: src.sha.slice(0, 12),
          changed: r.changed,
          added: r.added.length,
          removed: r.removed.length,
          enforced: rs.enforced,
          simulated: rs.simulated,
          steered,
          port_level: out.plan.portLevel.map((g) => g.group),
          gateway: out.gateway,
          stealth: out.ruleset.stealth,
          reverse_path: loose ? 'loose' : 'strict',
          ...(out.newRefusals.length > 0 ? { new_refusals: out.newRefusals } : {}),
          ...(upgrade.length > 0 ? { upgrade_warnings: upgrade } : {}),
        });
        process.stdout.write(
          r.changed
            ? `loaded: ${r.added.length} rules/elements added, ${r.removed.length} removed; enforcing ${rs.enforced.join(', ') || 'no zone'}; simulating ${rs.simulated.join(', ') || 'no zone'}${steered ? `; ${steered} server(s) steered to the gateway` : ''}\n`
            : 'unchanged: the loaded ruleset already matches the policy\n',
        );
        for (const x of r.switchedOn)
          process.stdout.write(`  set ${x} (conntrack tells replies from new connections)\n`);
        for (const x of rs.refused) process.stdout.write(`  ${x}\n`);
        for (const x of rs.unfiltered) process.stdout.write(`  ${x}\n`);
        for (const x of out.newRefusals)
          process.stderr.write(
            `warning: new in this build of Weir, not in the ruleset this policy ran with before: ${x}\n`,
          );
        if (rs.stealth)
          process.stdout.write(
            `  stealth: bridge ${o.bridge} carries no address; the host sends nothing on it\n`,
          );
        for (const g of out.plan.portLevel)
          process.stdout.write(`  port-level only: group ${g.group} (${g.why})\n`);
        if (steered > 0)
          process.stdout.write(
            out.gateway === 'reloaded'
              ? '  the running gateway switched to this policy first\n'
              : `  no gateway runs yet: until \`weir gateway --listen ${o.gatewayIp}\` starts, these servers are reached directly (uninspected; the allowlists hold)\n`,
          );
      },
    );

  withTarget(enforce.command('status'))
    .description('what the kernel and the gateway of this enforcement host run now, and since when')
    .option('--json', 'print JSON')
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .action((o: TargetOpts & { json?: boolean; stateDir: string }) => {
      const {
        applied,
        gateway,
        uninspected,
        digest: _digest,
        conntrack,
        stealth = { on: false, heldBack: 0 },
        ...s
      } = enforcementBackend(o).status();
      const upgrade = appliedUpgradeWarnings(applied);
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ ...s, upgradeWarnings: upgrade, stealth: { ...stealth, bridge: applied?.stealth?.bridge ?? null, addresses: stealthAddresses(stealth.on, applied, o.netns) }, applied: applied && { sha: applied.sha, source: applied.source, appliedAt: applied.appliedAt, actor: applied.actor, windowsValidUntil: applied.windowsValidUntil ?? null }, windows: windowsNotice(applied), conntrack, gateway, uninspected }, null, 1)}\n`,
        );
        return;
      }
      if (!s.loaded) {
        process.stdout.write('no Weir ruleset loaded\n');
        return;
      }
      if (applied)
        process.stdout.write(
          `policy: ${applied.sha.slice(0, 12)} from ${applied.source}, applied ${applied.appliedAt} by ${applied.actor}\n`,
        );
      for (const w of upgrade) process.stdout.write(`upgrade: ${w}\n`);
      process.stdout.write(`${describeStealth(stealth, applied, o.netns)}\n`);
      const windows = windowsNotice(applied);
      if (windows !== null) process.stdout.write(`${windows}\n`);
      const ct = conntrackNotice(conntrack);
      if (ct !== null) process.stdout.write(`${ct}\n`);
      if (s.steered.length > 0) {
        process.stdout.write(`${describeGateway(gateway)}\n`);
        if (uninspected)
          process.stdout.write(
            `  ${s.steered.length} steered server port(s) reached directly: traffic passing uninspected${gateway.state === 'down' ? ` since ${gateway.since}` : ''}\n`,
          );
      }
      process.stdout.write(
        `blocked sources: ${s.blocked.map((b) => `${b.ip}${b.expiresIn !== null ? ` (${b.expiresIn} s left)` : ''}`).join(', ') || 'none'}\n`,
      );
      process.stdout.write(`permits: ${s.permits.length}\n`);
      for (const x of s.unrecordedPermits ?? [])
        process.stdout.write(
          `  permit ${x}: in the kernel, NOT in Weir's records (given while the state folder was full or read-only, with another --state-dir, or by an older Weir)\n`,
        );
      for (const x of s.permitRecords ?? []) process.stdout.write(`  ${x}\n`);
      for (const x of s.refused ?? []) process.stdout.write(`${x}\n`);
      for (const x of s.layer2 ?? [])
        if (x.startsWith(NOT_FILTERED)) process.stdout.write(`${x}\n`);
      for (const c of s.counters)
        if (c.packets > 0) process.stdout.write(`  ${c.rule}: ${c.packets} packets\n`);
    });

  withIdentity(withTarget(enforce.command('remove')))
    .description('remove the Weir ruleset: traffic flows as before enforcement')
    .option('--db <db>', 'store for the audit log (required)')
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .action(async (o: EnforceOpts & { stateDir: string }) => {
      const caller = await proveEnforcer(o, 'enforce remove');
      const backend = enforcementBackend(o);
      const removed = await carryOut(o, 'enforcement.removed', backend.name, {}, () =>
        backend.remove(caller.name),
      );
      process.stdout.write(removed ? 'removed\n' : 'nothing was loaded\n');
    });

  withTarget(enforce.command('unsteer'))
    .description(
      "stop steering to the gateway now, so plant traffic goes direct (allowlists and blocks stay): the service manager's stop/failure hook. " +
        'Needs no login: it does only what the gateway lease does on its own one lease later',
    )
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .action((o: TargetOpts & { stateDir: string }) => {
      const held = enforcementBackend(o).unsteer();
      // systemd tells an ExecStopPost how the service ended: keep that in the gateway's record for `enforce status`.
      const why = process.env.SERVICE_RESULT
        ? `stopped by the service manager (${process.env.SERVICE_RESULT}${process.env.EXIT_STATUS ? `, ${process.env.EXIT_CODE ?? 'exit'} ${process.env.EXIT_STATUS}` : ''})`
        : 'steering removed by `weir enforce unsteer`';
      const h = readHealth(o.stateDir);
      if (h !== null && h.stoppedAt === undefined && !processAlive(h.pid))
        writeHealth(o.stateDir, { ...h, stoppedAt: new Date().toISOString(), stopReason: why });
      process.stdout.write(
        `${JSON.stringify({ event: 'gateway_unsteered', leases_dropped: held, reason: why })}\n`,
      );
    });

  withIdentity(withTarget(program.command('block')))
    .description('drop all traffic from and to an address now, for a while')
    .argument('<ip>')
    .requiredOption('--ttl <duration>', 'how long, e.g. 90s, 10m, 4h')
    .option('--db <db>', 'store for the audit log and the baseline (required)')
    .option('--reason <text>', 'why')
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .option(
      '--confirm-cuts-baseline',
      'block even though the address has learned-normal (baseline) flows, which are listed',
    )
    .action(
      async (
        given: string,
        o: EnforceOpts & {
          ttl: string;
          reason?: string;
          confirmCutsBaseline?: boolean;
          stateDir: string;
        },
      ) => {
        // One spelling for the baseline, the audit and the kernel (IPv6 as RFC 5952 writes it).
        const ip = canonicalIp(given) ?? given;
        const ttl = ttlOf(o.ttl);
        await proveEnforcer(o, 'block');
        // The refusal every block passes (this host, its subnets, routers and gateway), then the baseline's.
        const { g, never } = withStore(o.db!, (db) => ({
          g: guardBlock(db, ip, o.confirmCutsBaseline === true),
          never: neverBlockRefusal(
            ip,
            hostNeverBlock({
              netns: o.netns,
              stateDir: o.stateDir,
              extra: [],
              gatewayIp: cliSettings().enforce.gateway_ip,
              subnets: zoneSubnets(activePolicy(db)?.policy),
            }),
          ),
        }));
        const details = {
          ttl_s: ttl,
          reason: o.reason ?? '',
          baseline_version: g.baselineVersion,
          cuts_baseline: g.cuts,
        };
        if (never !== null) {
          audit(o, 'source.block_refused', ip, {
            ...details,
            cuts_baseline: [],
            never_block: never,
          });
          throw new Error(never);
        }
        if (g.refusal !== null) {
          audit(o, 'source.block_refused', ip, details);
          throw new Error(g.refusal);
        }
        if (g.baselineVersion === null)
          process.stderr.write(
            'warning: the store has no baseline, so which normal flows this block cuts is unknown\n',
          );
        else if (g.cuts.length)
          process.stderr.write(
            `warning: cutting ${g.cuts.length} baseline flow(s), as confirmed:\n${describeCuts(g.cuts)}\n`,
          );
        await carryOut(o, 'source.blocked', ip, details, () =>
          enforcementBackend(o).block(ip, ttl, o.reason ?? ''),
        );
        process.stdout.write(`${ip} blocked for ${ttl} s\n`);
      },
    );

  withIdentity(withTarget(program.command('unblock')))
    .description('lift a block of a source address before its time runs out (audited)')
    .argument('<ip>')
    .option('--db <db>', 'store for the audit log (required)')
    .action(async (given: string, o: EnforceOpts) => {
      const ip = canonicalIp(given) ?? given;
      await proveEnforcer(o, 'unblock');
      const r = await carryOut(o, 'source.unblocked', ip, {}, () =>
        enforcementBackend(o).unblock(ip),
      );
      // A fleet site lifts only its own block: another origin's keeps the address blocked here.
      process.stdout.write(
        r.keptBy
          ? `${ip}: this site's block lifted; still blocked here by ${r.keptBy.join(', ')} (lifted when they lift theirs, or by the manager: weir manager unblock)\n`
          : `${ip} unblocked\n`,
      );
    });

  withIdentity(withTarget(program.command('permit')))
    .description('let one flow through for a while, whatever the context groups say')
    .argument('<client>')
    .argument('<server>')
    .argument('<service>', 'tcp/PORT or udp/PORT')
    .requiredOption(
      '--ttl <duration>',
      'how long, at most settings enforce.max_permit_s (default 4 h, never over 12 h)',
    )
    .option('--db <db>', 'store for the audit log (required)')
    .option('--reason <text>', 'why')
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .action(
      async (
        givenClient: string,
        givenServer: string,
        service: string,
        o: EnforceOpts & { ttl: string; reason?: string },
      ) => {
        const client = canonicalIp(givenClient) ?? givenClient,
          server = canonicalIp(givenServer) ?? givenServer;
        const m = /^(tcp|udp)\/([0-9]{1,5})$/.exec(service);
        if (!m) throw new Error(`service '${service}' is not tcp/PORT or udp/PORT`);
        const ttl = ttlOf(o.ttl);
        const max = cliSettings().enforce.max_permit_s;
        await proveEnforcer(o, 'permit');
        // One person's word lets this flow around the groups and the gateway: only for a short while.
        if (ttl > max) {
          audit(o, 'flow.permit_refused', `${client} → ${server} ${service}`, {
            ttl_s: ttl,
            max_permit_s: max,
            reason: o.reason ?? '',
          });
          throw new Error(
            `a direct permit lasts at most ${humanDuration(max)} here (settings enforce.max_permit_s), not ${humanDuration(ttl)}: longer access is a context group to approve (weir policy submit)`,
          );
        }
        const granted = await carryOut(
          o,
          'flow.permitted',
          `${client} → ${server} ${service}`,
          { ttl_s: ttl, reason: o.reason ?? '' },
          () =>
            enforcementBackend(o).permit(
              { client, server, transport: m[1] as 'tcp' | 'udp', port: Number(m[2]) },
              ttl,
              o.reason ?? '',
            ),
        );
        process.stdout.write(`${client} → ${server} ${service} permitted for ${ttl} s\n`);
        // Our own disk's fault does not refuse an emergency permit, but it is said and audited.
        const fault = granted.recordFault;
        if (fault !== undefined) {
          process.stderr.write(`warning: ${fault.message}\n`);
          audit(
            o,
            fault.unrecorded ? 'flow.permit_unrecorded' : 'permit.records_set_aside',
            `${client} → ${server} ${service}`,
            { ttl_s: ttl, error: fault.message },
          );
        }
      },
    );

  withIdentity(program.command('gateway'))
    .description(
      'run the protocol-aware inline gateway (Modbus, S7comm, DNP3, EtherNet/IP, IEC 104): refused requests never pass; its own faults fail open',
    )
    .option(
      '--policy <file>',
      'policy file (default: what `enforce apply` loaded, from --state-dir)',
    )
    .option('--db <db>', 'store with the active policy')
    .requiredOption(
      '--listen <ip>',
      'address the steered traffic arrives at (the --gateway-ip of enforce apply)',
    )
    .option(
      '--family <family>',
      'bridge or inet (default: the family `enforce apply` loaded, else bridge)',
    )
    .option('--state-dir <dir>', 'runtime state of this enforcement host', DEFAULT_STATE_DIR)
    .option('--deny <mode>', 'exception (answer refused Modbus requests) or drop', 'exception')
    .option(
      '--budget-us <n>',
      'inspection time per PDU beyond which a slow_inspection event is logged (the verdict holds; default: settings gateway.budget_us)',
    )
    .option(
      '--rate <n>',
      'requests per second one client may send through the gateway (default: settings gateway.rate; a refusal costs gateway.refusal_cost)',
    )
    .option('--log <file>', 'append JSON-line events here instead of stdout')
    .option(
      '--log-max-mb <n>',
      'rotate the log beyond this size (default: settings gateway.log_max_mb)',
    )
    // Test only, and hidden: it makes inspection throw on every PDU, so everything passes unchecked.
    .addOption(
      new Option(
        '--inject-fault <kind>',
        'test only (needs WEIR_TEST_FAULTS=1): make inspection throw, to prove the gateway fails open',
      ).hideHelp(),
    )
    .action(
      async (
        o: IdentityOpts & {
          policy?: string;
          db?: string;
          listen: string;
          family?: string;
          stateDir: string;
          deny: string;
          budgetUs?: string;
          rate?: string;
          log?: string;
          logMaxMb?: string;
          injectFault?: string;
        },
      ) => {
        if (o.deny !== 'exception' && o.deny !== 'drop')
          throw new Error('--deny is exception or drop');
        // A line in the service's arguments must never be able to turn inspection off: the switch also needs
        // the test environment, and says so loudly when used.
        if (o.injectFault !== undefined) {
          if (process.env.WEIR_TEST_FAULTS !== '1')
            throw new Error(
              '--inject-fault is a test switch (every PDU would pass uninspected); it needs WEIR_TEST_FAULTS=1',
            );
          process.stderr.write(
            `weir gateway: TEST FAULT INJECTION ON (${o.injectFault}): every PDU fails open\n`,
          );
        }
        const gw = cliSettings().gateway;
        // With a store, the person starting the gateway is proven and its start and stop are audited there; without
        // one it follows what an audited `enforce apply` loaded (--state-dir), as a service would.
        if (o.db) await proveEnforcer(o, 'gateway');
        const load = o.policy || o.db ? () => policyFrom(o) : appliedSource(o.stateDir);
        if (o.db)
          audit(o, 'gateway.started', o.listen, {
            policy: load().sha.slice(0, 12),
            state_dir: o.stateDir,
          });
        // What permitted people did that the gateway refused goes into the store's audit under their name.
        const permitAudit = o.db
          ? new PermitRefusalAudit((e) => {
              const db = openStore(o.db!);
              try {
                appendAudit(db, e);
              } finally {
                db.close();
              }
            })
          : null;
        await runGateway({
          permitEvents: permitAudit ? (e) => permitAudit.note(e) : undefined,
          listen: o.listen,
          family: familyOf(o.family ?? readApplied(o.stateDir)?.family ?? 'bridge'),
          stateDir: o.stateDir,
          deny: o.deny as DenyMode,
          budgetMicros: positive(o.budgetUs, '--budget-us') ?? gw.budget_us,
          rate: positive(o.rate, '--rate') ?? gw.rate,
          refusalCost: gw.refusal_cost,
          leaseMs: gw.lease_ms,
          heartbeatMs: gw.heartbeat_ms,
          logLinesPerSecond: gw.log_lines_per_s,
          failOpenQuietSeconds: gw.fail_open_quiet_s,
          idleSeconds: gw.idle_s,
          perClientConnections: gw.per_client_connections,
          maxConnections: gw.max_connections,
          requestMicros: gw.request_us,
          log: o.log ?? null,
          logMaxBytes: (positive(o.logMaxMb, '--log-max-mb') ?? gw.log_max_mb) * 1024 * 1024,
          load,
          fault: o.injectFault
            ? () => {
                throw new Error(`injected fault (${o.injectFault})`);
              }
            : undefined,
          testFault: o.injectFault,
        });
        if (o.db) audit(o, 'gateway.stopped', o.listen, {});
      },
    );
}
