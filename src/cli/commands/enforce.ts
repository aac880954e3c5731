import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
import { openStore } from '../../store/db.js';
import { appendAudit } from '../../store/audit-store.js';
import type { Policy } from '../../policy/model.js';
import { parseDuration } from '../../policy/load.js';
import { CompiledPolicy } from '../../policy/evaluate.js';
import { compileRuleset, type NftFamily } from '../../enforce/nft-ruleset.js';
import { applyRuleset, blockSource, permitFlow, removeRuleset, status, unblockSource, type NftTarget } from '../../enforce/nft.js';
import { gatewayTargets } from '../../enforce/steer.js';
import { Gateway } from '../../enforce/gateway/gateway.js';
import type { DenyMode } from '../../enforce/gateway/inspector.js';
import { activePolicy } from '../../respond/change-control.js';
import { readPolicyFile } from './policy.js';

interface TargetOpts { family: string; netns?: string }

function target(o: TargetOpts): NftTarget {
  if (o.family !== 'bridge' && o.family !== 'inet') throw new Error('--family is bridge or inet');
  return { family: o.family as NftFamily, netns: o.netns };
}

/** The policy to enforce: a file, or the store's active (approved and applied) policy. */
function policyFrom(o: { policy?: string; db?: string }): Policy {
  if (o.policy) return readPolicyFile(o.policy).policy;
  if (!o.db) throw new Error('give --policy FILE or --db STORE (its active policy)');
  const db = openStore(o.db);
  try {
    const a = activePolicy(db);
    if (a === null) throw new Error(`no active policy in ${o.db}: submit, approve and apply one first`);
    return a.policy;
  } finally {
    db.close();
  }
}

function audit(o: { db?: string; as?: string }, action: string, subject: string, details: Record<string, unknown>): void {
  if (!o.db) return;
  const db = openStore(o.db);
  try { appendAudit(db, { actor: o.as ?? process.env.USER ?? 'unknown', action, subject, details }); } finally { db.close(); }
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

  withTarget(enforce.command('apply'))
    .description('compile the policy and load it atomically (unchanged rulesets are left alone)')
    .option('--policy <file>', 'policy file (default: the active policy in --db)')
    .option('--db <db>', 'store with the active policy; the apply is audited there')
    .option('--as <user>', 'who applies it (audit)')
    .option('--gateway-ip <ip>', 'steer protocol traffic of enforced servers to the gateway at this address')
    .option('--bridge <iface>', 'bridge the gateway listens on (bridge family)', 'br0')
    .option('--dry-run', 'print the nftables JSON instead of loading it')
    .action((o: TargetOpts & { policy?: string; db?: string; as?: string; gatewayIp?: string; bridge: string; dryRun?: boolean }) => {
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

  withTarget(enforce.command('remove'))
    .description('remove the Weir ruleset: traffic flows as before enforcement')
    .option('--db <db>', 'store for the audit log').option('--as <user>', 'who')
    .action((o: TargetOpts & { db?: string; as?: string }) => {
      const removed = removeRuleset(target(o));
      audit(o, 'enforcement.removed', 'nftables', { removed });
      process.stdout.write(removed ? 'removed\n' : 'nothing was loaded\n');
    });

  withTarget(program.command('block'))
    .description('drop all traffic from and to an address now, for a while')
    .argument('<ip>')
    .requiredOption('--ttl <duration>', 'how long, e.g. 90s, 10m, 4h')
    .option('--db <db>', 'store for the audit log').option('--as <user>', 'who').option('--reason <text>', 'why')
    .action((ip: string, o: TargetOpts & { ttl: string; db?: string; as?: string; reason?: string }) => {
      const ttl = ttlOf(o.ttl);
      blockSource(target(o), ip, ttl);
      audit(o, 'source.blocked', ip, { ttl_s: ttl, reason: o.reason ?? '' });
      process.stdout.write(`${ip} blocked for ${ttl} s\n`);
    });

  withTarget(program.command('unblock'))
    .argument('<ip>')
    .option('--db <db>', 'store for the audit log').option('--as <user>', 'who')
    .action((ip: string, o: TargetOpts & { db?: string; as?: string }) => {
      unblockSource(target(o), ip);
      audit(o, 'source.unblocked', ip, {});
      process.stdout.write(`${ip} unblocked\n`);
    });

  withTarget(program.command('permit'))
    .description('let one flow through for a while, whatever the context groups say')
    .argument('<client>').argument('<server>').argument('<service>', 'tcp/PORT or udp/PORT')
    .requiredOption('--ttl <duration>', 'how long')
    .option('--db <db>', 'store for the audit log').option('--as <user>', 'who').option('--reason <text>', 'why')
    .action((client: string, server: string, service: string, o: TargetOpts & { ttl: string; db?: string; as?: string; reason?: string }) => {
      const m = /^(tcp|udp)\/([0-9]{1,5})$/.exec(service);
      if (!m) throw new Error(`service '${service}' is not tcp/PORT or udp/PORT`);
      const ttl = ttlOf(o.ttl);
      permitFlow(target(o), { client, server, transport: m[1] as 'tcp' | 'udp', port: Number(m[2]) }, ttl);
      audit(o, 'flow.permitted', `${client} → ${server} ${service}`, { ttl_s: ttl, reason: o.reason ?? '' });
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
