import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import type { Db } from '../../store/db.js';
import type { Policy } from '../../policy/model.js';
import { parseDuration } from '../../policy/load.js';
import { CompiledPolicy } from '../../policy/evaluate.js';
import { compileRuleset, type NftFamily } from '../../enforce/nft-ruleset.js';
import { applyRuleset, blockSource, permitFlow, removeRuleset, status, unblockSource, type NftTarget } from '../../enforce/nft.js';
import { gatewayTargets } from '../../enforce/steer.js';
import { Gateway } from '../../enforce/gateway/gateway.js';
import type { DenyMode } from '../../enforce/gateway/inspector.js';
import { enforceablePolicy } from '../../respond/enforceable.js';
import { describeCuts, guardBlock } from '../../respond/block-impact.js';
import { openExistingStore, withIdentity, type IdentityOpts } from '../identity.js';
import { auditEnforcement, carryOut, proveEnforcer } from '../enforcer.js';
import { readPolicyFile } from './policy.js';

interface TargetOpts { family: string; netns?: string }
type EnforceOpts = TargetOpts & IdentityOpts & { db?: string };

function withStore<T>(path: string, fn: (db: Db) => T): T {
  const db = openExistingStore(path);
  try { return fn(db); } finally { db.close(); }
}

function target(o: TargetOpts): NftTarget {
  if (o.family !== 'bridge' && o.family !== 'inet') throw new Error('--family is bridge or inet');
  return { family: o.family as NftFamily, netns: o.netns };
}

/** The policy to enforce: the store's active (approved) policy, or a file — in enforce mode only if it is that policy. */
function policyFrom(o: { policy?: string; db?: string }): Policy {
  const file = o.policy ? { text: readPolicyFile(o.policy).text, source: o.policy } : null;
  const db = o.db ? openExistingStore(o.db) : null;
  try { return enforceablePolicy(db, file).policy; } finally { db?.close(); }
}

/** Audit an enforcement action in the store, by the person proven at the start of the command. */
function audit(o: object, action: string, subject: string, details: Record<string, unknown>): void {
  auditEnforcement(o, action, subject, details);
}

function bridgeMac(iface: string, netns?: string): string {
  const cat = ['cat', `/sys/class/net/${iface}/address`];
  return execFileSync(netns ? 'ip' : cat[0]!, netns ? ['netns', 'exec', netns, ...cat] : cat.slice(1), { encoding: 'utf8' }).trim();
}

const ttlOf = (s: string): number => {
  if (!/^[0-9]+[smhdw]?$/.test(s)) throw new Error(`--ttl: '${s}' is not a duration like 90s, 10m, 4h`);
  return parseDuration(/[smhdw]$/.test(s) ? s : Number(s));
};

export function registerEnforce(program: Command): void {
  const withTarget = (c: Command): Command => c.option('--family <family>', 'bridge (the host bridges plant segments) or inet (it routes)', 'bridge').option('--netns <name>', 'apply inside this network namespace');
  const enforce = program.command('enforce').description('nftables enforcement of the zones in simulate and enforce mode');

  withIdentity(withTarget(enforce.command('apply')))
    .description('compile the policy and load it atomically (unchanged rulesets are left alone)')
    .option('--policy <file>', 'policy file (default: the active policy in --db)')
    .option('--db <db>', 'store with the active policy; the apply is audited there (required, except for --dry-run)')
    .option('--gateway-ip <ip>', 'steer protocol traffic of enforced servers to the gateway at this address')
    .option('--bridge <iface>', 'bridge the gateway listens on (bridge family)', 'br0')
    .option('--dry-run', 'print the nftables JSON instead of loading it')
    .action(async (o: TargetOpts & IdentityOpts & { policy?: string; db?: string; gatewayIp?: string; bridge: string; dryRun?: boolean }) => {
      if (!o.dryRun) await proveEnforcer(o, 'enforce apply');
      const cp = new CompiledPolicy(policyFrom(o));
      const t = target(o);
      const steer = o.gatewayIp ? gatewayTargets(cp, o.gatewayIp) : [];
      const rs = compileRuleset(cp, { family: t.family, steer, bridgeMac: steer.length && t.family === 'bridge' ? bridgeMac(o.bridge, o.netns) : undefined });
      for (const w of rs.warnings) process.stderr.write(`warning: ${w}\n`);
      if (o.dryRun) { process.stdout.write(`${JSON.stringify(rs.json, null, 1)}\n`); return; }
      const r = applyRuleset(t, rs);
      audit(o, 'enforcement.applied', 'nftables', { changed: r.changed, added: r.added.length, removed: r.removed.length, enforced: rs.enforced, simulated: rs.simulated, steered: steer.length });
      process.stdout.write(r.changed
        ? `loaded: ${r.added.length} rules/elements added, ${r.removed.length} removed; enforcing ${rs.enforced.join(', ') || 'no zone'}; simulating ${rs.simulated.join(', ') || 'no zone'}${steer.length ? `; ${steer.length} server(s) steered to the gateway` : ''}\n`
        : 'unchanged: the loaded ruleset already matches the policy\n');
    });

  withTarget(enforce.command('status'))
    .option('--json', 'print JSON')
    .action((o: TargetOpts & { json?: boolean }) => {
      const s = status(target(o));
      if (o.json) { process.stdout.write(`${JSON.stringify(s, null, 1)}\n`); return; }
      if (!s.loaded) { process.stdout.write('no Weir ruleset loaded\n'); return; }
      process.stdout.write(`blocked sources: ${s.blocked.map((b) => `${b.ip}${b.expiresIn !== null ? ` (${b.expiresIn} s left)` : ''}`).join(', ') || 'none'}\n`);
      process.stdout.write(`permits: ${s.permits.length}\n`);
      for (const c of s.counters) if (c.packets > 0) process.stdout.write(`  ${c.rule}: ${c.packets} packets\n`);
    });

  withIdentity(withTarget(enforce.command('remove')))
    .description('remove the Weir ruleset: traffic flows as before enforcement')
    .option('--db <db>', 'store for the audit log (required)')
    .action(async (o: EnforceOpts) => {
      await proveEnforcer(o, 'enforce remove');
      const removed = carryOut(o, 'enforcement.removed', 'nftables', {}, () => removeRuleset(target(o)));
      process.stdout.write(removed ? 'removed\n' : 'nothing was loaded\n');
    });

  withIdentity(withTarget(program.command('block')))
    .description('drop all traffic from and to an address now, for a while')
    .argument('<ip>')
    .requiredOption('--ttl <duration>', 'how long, e.g. 90s, 10m, 4h')
    .option('--db <db>', 'store for the audit log and the baseline (required)').option('--reason <text>', 'why')
    .option('--confirm-cuts-baseline', 'block even though the address has learned-normal (baseline) flows, which are listed')
    .action(async (ip: string, o: EnforceOpts & { ttl: string; reason?: string; confirmCutsBaseline?: boolean }) => {
      const ttl = ttlOf(o.ttl);
      await proveEnforcer(o, 'block');
      const g = withStore(o.db!, (db) => guardBlock(db, ip, o.confirmCutsBaseline === true));
      const details = { ttl_s: ttl, reason: o.reason ?? '', baseline_version: g.baselineVersion, cuts_baseline: g.cuts };
      if (g.refusal !== null) { audit(o, 'source.block_refused', ip, details); throw new Error(g.refusal); }
      if (g.baselineVersion === null) process.stderr.write('warning: the store has no baseline, so which normal flows this block cuts is unknown\n');
      else if (g.cuts.length) process.stderr.write(`warning: cutting ${g.cuts.length} baseline flow(s), as confirmed:\n${describeCuts(g.cuts)}\n`);
      carryOut(o, 'source.blocked', ip, details, () => blockSource(target(o), ip, ttl));
      process.stdout.write(`${ip} blocked for ${ttl} s\n`);
    });

  withIdentity(withTarget(program.command('unblock')))
    .argument('<ip>')
    .option('--db <db>', 'store for the audit log (required)')
    .action(async (ip: string, o: EnforceOpts) => {
      await proveEnforcer(o, 'unblock');
      carryOut(o, 'source.unblocked', ip, {}, () => unblockSource(target(o), ip));
      process.stdout.write(`${ip} unblocked\n`);
    });

  withIdentity(withTarget(program.command('permit')))
    .description('let one flow through for a while, whatever the context groups say')
    .argument('<client>').argument('<server>').argument('<service>', 'tcp/PORT or udp/PORT')
    .requiredOption('--ttl <duration>', 'how long')
    .option('--db <db>', 'store for the audit log (required)').option('--reason <text>', 'why')
    .action(async (client: string, server: string, service: string, o: EnforceOpts & { ttl: string; reason?: string }) => {
      const m = /^(tcp|udp)\/([0-9]{1,5})$/.exec(service);
      if (!m) throw new Error(`service '${service}' is not tcp/PORT or udp/PORT`);
      const ttl = ttlOf(o.ttl);
      await proveEnforcer(o, 'permit');
      carryOut(o, 'flow.permitted', `${client} → ${server} ${service}`, { ttl_s: ttl, reason: o.reason ?? '' },
        () => permitFlow(target(o), { client, server, transport: m[1] as 'tcp' | 'udp', port: Number(m[2]) }, ttl));
      process.stdout.write(`${client} → ${server} ${service} permitted for ${ttl} s\n`);
    });

  program.command('gateway')
    .description('run the protocol-aware inline gateway (Modbus, S7comm, DNP3, EtherNet/IP); fails open')
    .option('--policy <file>', 'policy file (default: the active policy in --db)')
    .option('--db <db>', 'store with the active policy')
    .requiredOption('--listen <ip>', 'address the steered traffic arrives at (the --gateway-ip of enforce apply)')
    .option('--deny <mode>', 'exception (answer refused Modbus requests) or drop', 'exception')
    .option('--budget-us <n>', 'inspection time budget per PDU; beyond it the PDU passes (fail-open)', '2000')
    .option('--log <file>', 'append JSON-line events here instead of stdout')
    .option('--inject-fault <kind>', 'test only: make inspection throw, to prove the gateway fails open')
    .action(async (o: { policy?: string; db?: string; listen: string; deny: string; budgetUs: string; log?: string; injectFault?: string }) => {
      if (o.deny !== 'exception' && o.deny !== 'drop') throw new Error('--deny is exception or drop');
      const cp = new CompiledPolicy(policyFrom(o));
      const targets = gatewayTargets(cp, o.listen);
      if (targets.length === 0) throw new Error('no server to guard: the policy has no enforced zone with protocol groups the gateway reads');
      const sink = o.log ? createWriteStream(o.log, { flags: 'a' }) : process.stdout;
      const gw = new Gateway({
        policy: cp, targets, deny: o.deny as DenyMode, budgetMicros: Number(o.budgetUs),
        log: (e) => sink.write(`${JSON.stringify({ ts: new Date().toISOString(), ...e })}\n`),
        fault: o.injectFault ? () => { throw new Error(`injected fault (${o.injectFault})`); } : undefined,
      });
      await gw.start();
      await new Promise<void>((resolve) => { process.once('SIGTERM', resolve); process.once('SIGINT', resolve); });
      await gw.stop();
      if (sink !== process.stdout) await new Promise<void>((r) => (sink as NodeJS.WritableStream).end(r));
    });
}
