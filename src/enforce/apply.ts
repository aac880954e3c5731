import { readConntrack } from './conntrack-load.js';
import { rmSync } from 'node:fs';
import { CompiledPolicy } from '../policy/evaluate.js';
import type { Policy } from '../policy/model.js';
import { compileRuleset, REFUSED, type CompiledRuleset } from './nft-ruleset.js';
import { applyRuleset, checkRuleset, type ApplyResult, type NftTarget } from './nft.js';
import { enforcementPlan, type EnforcementPlan } from './steer.js';
import {
  appliedFile,
  gatewayState,
  readApplied,
  readHealth,
  writeApplied,
  type AppliedPolicy,
} from './state.js';

/** The policy to apply, with its text and hash (the gateway and the applied record name it by them). */
export interface ApplySource {
  policy: Policy;
  text: string;
  source: string;
  sha: string;
}

/** What a caller of EnforcementBackend.apply asks for (defined here so the backend imports apply, not back). */
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
  /** Sensor-only stealth on this bridge: refused while the bridge carries an address (`addresses` lists them). */
  stealth?: { bridge: string; addresses: () => string[] };
}

/** An apply on one nftables host: the backend's request plus where (target) and its runtime state folder. */
export interface HostApplyRequest extends ApplyRequest {
  target: NftTarget;
  stateDir: string;
}

export interface ApplyOutcome {
  plan: EnforcementPlan;
  ruleset: CompiledRuleset;
  result: ApplyResult | null;
  /** What the running gateway did: reloaded to this policy, or none ran. */
  gateway: 'reloaded' | 'not running';
  /**
   * Refusals of this ruleset that the one applied before from the same policy text did not have: this build of
   * Weir refuses more than the approved change was simulated with (an upgrade). Said and audited, not hidden.
   */
  newRefusals: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Load a policy on the enforcement host so that the kernel and the gateway run the same one: refuse what
 * nothing would enforce, switch a running gateway first (its checks are the finer ones, so for a moment the
 * new fine rules meet the old coarse ones, never the reverse), then load the ruleset in one transaction.
 * If the gateway does not take the new policy in time, nothing changes; if the kernel then refuses the ruleset,
 * the gateway and the applied record are switched back to the policy the kernel still runs.
 */
export async function applyEnforcement(r: HostApplyRequest): Promise<ApplyOutcome> {
  if (r.stealth) checkStealth(r, r.stealth);
  const cp = new CompiledPolicy(r.source.policy);
  const plan = enforcementPlan(cp, r.gatewayIp, { portLevelOk: r.portLevelOk });
  if (plan.unenforceable.length > 0) {
    throw new Error(
      `refusing to enforce ${r.source.source}: nothing would check these limits, and "enforce" would be untrue:\n${plan.unenforceable.map((u) => `  group ${u.group}: ${u.why}`).join('\n')}`,
    );
  }
  const steer =
    r.gatewayIp !== null && plan.targets.length > 0
      ? { gatewayIp: r.gatewayIp, targets: plan.targets }
      : undefined;
  const ruleset = compileRuleset(cp, {
    family: r.target.family,
    steer,
    bridgeMac: steer && r.target.family === 'bridge' ? r.bridgeMac() : undefined,
    stealth: r.stealth !== undefined,
    looseReversePath: r.target.looseReversePath === true,
  });
  const before = readApplied(r.stateDir);
  // A record of an older build holds no list: every refusal is then one it may not have run with (review 13, M8).
  const newRefusals =
    before?.sha === r.source.sha && before.removedAt === undefined
      ? ruleset.refused.filter((x) => x.startsWith(REFUSED) && !(before.refused ?? []).includes(x))
      : [];
  if (r.dryRun) return { plan, ruleset, result: null, gateway: 'not running', newRefusals };

  const applied: AppliedPolicy = {
    sha: r.source.sha,
    source: r.source.source,
    text: r.source.text,
    appliedAt: new Date().toISOString(),
    actor: r.actor,
    family: r.target.family,
    gatewayIp: r.gatewayIp,
    ...(r.stealth ? { stealth: { bridge: r.stealth.bridge } } : {}),
  };
  const previous = before;
  // Before the gateway is switched: a ruleset the kernel would refuse leaves everything as it is.
  checkRuleset(r.target, ruleset);
  const gw = gatewayState(r.stateDir);
  let gateway: ApplyOutcome['gateway'] = 'not running';
  if (gw.state === 'up') {
    writeApplied(r.stateDir, applied);
    const ok = await reloadGateway(
      r.stateDir,
      gw.health.pid,
      r.source.sha,
      r.reloadTimeoutMs ?? 5000,
    );
    if (!ok.ok) {
      if (previous !== null) writeApplied(r.stateDir, previous);
      try {
        process.kill(gw.health.pid, 'SIGHUP');
      } catch {
        /* gone */
      }
      throw new Error(
        `the running gateway (pid ${gw.health.pid}) did not switch to the new policy: ${ok.why}; nothing was changed`,
      );
    }
    gateway = 'reloaded';
  }
  let result: ApplyResult;
  try {
    result = applyRuleset(r.target, ruleset);
  } catch (err) {
    // The kernel kept the old ruleset: the gateway and the record must not stay on the new policy.
    if (gateway !== 'reloaded') throw err;
    const back = await switchBack(r, previous, gw.state === 'up' ? gw.health.pid : 0);
    throw new Error(`${(err as Error).message}\n${back}`);
  }
  writeApplied(r.stateDir, {
    ...applied,
    netns: r.target.netns,
    rulesetDigest: result.digest,
    ...(ruleset.windowsValidUntil !== null ? { windowsValidUntil: ruleset.windowsValidUntil } : {}),
    ...conntrackBaseline(readConntrack(r.target.netns)),
    refused: ruleset.refused,
  });
  return { plan, ruleset, result, gateway, newRefusals };
}

/** The kernel's count of full-table drops now, and which run of the counters it belongs to. */
function conntrackBaseline(
  ct: ReturnType<typeof readConntrack>,
): Pick<AppliedPolicy, 'conntrackDroppedAtApply' | 'conntrackEpochAtApply'> {
  return {
    conntrackDroppedAtApply: ct?.dropped ?? 0,
    ...(ct?.epoch !== undefined ? { conntrackEpochAtApply: ct.epoch } : {}),
  };
}

/**
 * After a failed kernel load: put the applied record back and switch the gateway back to what the kernel still
 * runs. Says what became of it; a gateway that does not switch back is named loudly (it runs rules the kernel
 * does not, until restarted).
 */
async function switchBack(
  r: HostApplyRequest,
  previous: AppliedPolicy | null,
  pid: number,
): Promise<string> {
  if (previous === null) {
    rmSync(appliedFile(r.stateDir), { force: true });
    return `nothing was applied before: the applied record is removed, but the running gateway (pid ${pid}) keeps the new policy until it is stopped`;
  }
  writeApplied(r.stateDir, previous);
  const ok = await reloadGateway(r.stateDir, pid, previous.sha, r.reloadTimeoutMs ?? 5000);
  return ok.ok
    ? `the gateway is back on policy ${previous.sha.slice(0, 12)} (${previous.source}), which the kernel still runs`
    : `THE GATEWAY DID NOT SWITCH BACK (pid ${pid}: ${ok.why}): it runs the new policy while the kernel runs ${previous.sha.slice(0, 12)}; restart it (systemctl restart weir-gateway)`;
}

/**
 * Stealth holds only if nothing on the bridge can answer: no address on it (an IPv6 link-local one included),
 * no gateway (it answers TCP as itself), no routing (a router is a hop).
 */
function checkStealth(r: HostApplyRequest, s: { bridge: string; addresses: () => string[] }): void {
  if (r.target.family !== 'bridge')
    throw new Error('stealth needs --family bridge: a router is a hop by nature');
  if (r.gatewayIp !== null)
    throw new Error(
      'stealth refuses --gateway-ip: the gateway terminates TCP with an address and a MAC of its own, so it would reveal the bridge; enforce protocol groups port-level (--port-level-ok) or leave stealth',
    );
  const addrs = s.addresses();
  if (addrs.length > 0)
    throw new Error(
      `stealth refuses bridge ${s.bridge}: it carries ${addrs.join(', ')}; remove them from the bridge and its ports (sysctl -w net.ipv6.conf.IFACE.disable_ipv6=1; ip addr flush dev IFACE) and apply again`,
    );
}

/**
 * Signal the gateway to reload and wait for its answer: the health record's reload count moves past the one
 * seen before the signal, then says whether that reload took this policy (an older failure cannot answer).
 */
async function reloadGateway(
  dir: string,
  pid: number,
  sha: string,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; why: string }> {
  const before = readHealth(dir)?.reloads ?? 0;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    await sleep(50);
    const h = readHealth(dir);
    if (h === null || h.reloads <= before) continue;
    if (h.reloadError !== null) return { ok: false, why: `reload failed: ${h.reloadError}` };
    return h.policySha === sha
      ? { ok: true }
      : {
          ok: false,
          why: `it runs policy ${h.policySha.slice(0, 12)} from ${h.policySource}, not ${sha.slice(0, 12)}`,
        };
  }
  return { ok: false, why: `no answer within ${timeoutMs} ms` };
}
