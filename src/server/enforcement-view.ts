import {
  downReason,
  gatewayState,
  readApplied,
  windowsNotice,
  type AppliedPolicy,
  type GatewayState,
} from '../enforce/state.js';
import { NftBackend } from '../enforce/nft-backend.js';
import { conntrackNotice } from '../enforce/conntrack-load.js';
import type { EnforcementBackend } from '../enforce/backend.js';
import type { NftFamily } from '../enforce/nft-ruleset.js';

/** What the kernel holds right now, read on this machine (null fields: it could not be read from here). */
export interface KernelReading {
  readable: boolean;
  /** Weir's ruleset is loaded at all. */
  loaded: boolean;
  /** The loaded ruleset is exactly the one `enforce apply` recorded (digests match). */
  matchesApplied: boolean;
  dropped: number;
  wouldBlock: number;
  blockedSources: number;
  /** The conntrack table nearly full, or connections dropped on it since the apply (null: all well). */
  conntrack: string | null;
  /** Permits the kernel holds that Weir's records lack, or the records' own fault (null: none). */
  permitRecords: string | null;
  error: string | null;
}

/** What the enforcement host of this store really runs, as far as this machine can tell. */
export interface EnforcementView {
  /** 'unknown': nothing was applied on this host (enforcement may run elsewhere, or not at all). */
  kernel:
    | { state: 'unknown' }
    | { state: 'removed'; removedAt: string; removedBy: string; live: KernelReading }
    | {
        state: 'applied';
        sha: string;
        source: string;
        appliedAt: string;
        actor: string;
        matchesActive: boolean;
        live: KernelReading;
      };
  gateway:
    | { state: 'none' }
    | {
        state: 'up';
        since: string;
        servers: number;
        policySha: string;
        denied: number;
        failOpen: number;
        /** The test switch --inject-fault: the gateway passes every PDU uninspected (null: off). */
        testFault: string | null;
      }
    | {
        state: 'down';
        since: string;
        servers: number;
        reason: string;
        testFault: string | null;
      };
  /** One plain sentence for the overview. */
  text: string;
}

const CACHE_MS = 3000;
const cache = new Map<string, { at: number; reading: KernelReading }>();

/**
 * Read the kernel the applied record names (its family and namespace), at most every few seconds: spawning nft
 * per request would let page views load the enforcement host. Without the rights or the tool, say so.
 */
function readKernel(a: AppliedPolicy, stateDir: string): KernelReading {
  const backend: EnforcementBackend = new NftBackend(
    { family: a.family as NftFamily, netns: a.netns },
    stateDir,
  );
  const key = `${a.family}|${a.netns ?? ''}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.reading;
  let reading: KernelReading;
  try {
    const s = backend.status();
    const digest = s.digest;
    const counter = (rule: string): number =>
      s.counters.filter((c) => c.rule === rule).reduce((n, c) => n + c.packets, 0);
    reading = {
      readable: true,
      loaded: digest !== null,
      matchesApplied: digest !== null && digest === a.rulesetDigest,
      dropped: counter('enforce: drop'),
      wouldBlock: counter('simulate: log only'),
      blockedSources: s.blocked.length,
      conntrack: conntrackNotice(s.conntrack),
      permitRecords: permitRecordsNotice(s.unrecordedPermits, s.permitRecords),
      error: null,
    };
  } catch (err) {
    reading = {
      readable: false,
      loaded: false,
      matchesApplied: false,
      dropped: 0,
      wouldBlock: 0,
      blockedSources: 0,
      conntrack: null,
      permitRecords: null,
      error: (err as Error).message,
    };
  }
  cache.set(key, { at: Date.now(), reading });
  return reading;
}

/** A sentence when the kernel holds permits Weir has no record of, or the records are at fault. */
function permitRecordsNotice(unrecorded: string[] = [], problems: string[] = []): string | null {
  const parts = [...problems.map((p) => `${capital(p)}.`)];
  if (unrecorded.length > 0)
    parts.unshift(
      `${unrecorded.length} permit(s) in the kernel are NOT in Weir's records (${unrecorded.join(', ')}): given while the state folder was full or read-only, with another state folder, or by an older Weir.`,
    );
  return parts.length > 0 ? parts.join(' ') : null;
}

export function enforcementView(stateDir: string, activeSha: string | null): EnforcementView {
  const a = readApplied(stateDir);
  const live = a === null ? null : readKernel(a, stateDir);
  const kernel: EnforcementView['kernel'] =
    a === null
      ? { state: 'unknown' }
      : a.removedAt !== undefined
        ? {
            state: 'removed',
            removedAt: a.removedAt,
            removedBy: a.removedBy ?? 'unknown',
            live: live!,
          }
        : {
            state: 'applied',
            sha: a.sha,
            source: a.source,
            appliedAt: a.appliedAt,
            actor: a.actor,
            matchesActive: a.sha === activeSha,
            live: live!,
          };
  const gateway = gatewayView(gatewayState(stateDir));
  const windows = windowsNotice(a);
  const text = describe(kernel, gateway, activeSha);
  return { kernel, gateway, text: windows === null ? text : `${text} ${capital(windows)}.` };
}

function describe(
  kernel: EnforcementView['kernel'],
  gateway: EnforcementView['gateway'],
  activeSha: string | null,
): string {
  const parts: string[] = [];
  if (kernel.state === 'unknown')
    parts.push(
      'Enforcement state unknown: no ruleset was applied on this host, so nothing here says what blocks traffic.',
    );
  else if (kernel.state === 'removed')
    parts.push(
      kernel.live.readable && kernel.live.loaded
        ? `Enforcement was removed at ${kernel.removedAt} by ${kernel.removedBy}, yet a Weir ruleset is loaded in the kernel: check the enforcement host.`
        : `Nothing is blocked: enforcement was removed at ${kernel.removedAt} by ${kernel.removedBy}.`,
    );
  else {
    const l = kernel.live;
    const which = `policy ${kernel.sha.slice(0, 12)} (applied ${kernel.appliedAt} by ${kernel.actor})${kernel.matchesActive ? '' : activeSha === null ? ', while the store has no active policy' : `, NOT the active policy ${activeSha.slice(0, 12)}`}`;
    if (!l.readable)
      parts.push(
        `The enforcement host was last given ${which}; its kernel cannot be read from here (${l.error ?? 'no access'}), so whether it still runs is unknown.`,
      );
    else if (!l.loaded)
      parts.push(
        `Nothing is blocked: the kernel holds no Weir ruleset, though ${which} was applied.`,
      );
    else if (!l.matchesApplied)
      parts.push(
        `The kernel holds a Weir ruleset that differs from ${which}: it was changed outside Weir.`,
      );
    else
      parts.push(
        `The kernel runs ${which}: ${l.dropped} packet(s) dropped, ${l.wouldBlock} would-block logged, ${l.blockedSources} source(s) blocked.`,
      );
    if (l.conntrack !== null) parts.push(`${capital(l.conntrack)}.`);
    if (l.permitRecords !== null) parts.push(l.permitRecords);
  }
  if (gateway.state === 'down')
    parts.push(
      `GATEWAY DOWN since ${gateway.since} (${gateway.reason}): traffic to ${gateway.servers} guarded server port(s) passes uninspected; the kernel allowlists still hold.`,
    );
  if (gateway.state !== 'none' && gateway.testFault !== null)
    parts.push(
      `The gateway runs with TEST FAULT INJECTION ON (${gateway.testFault}): every PDU passes uninspected.`,
    );
  else if (gateway.state === 'up')
    parts.push(
      `The gateway checks every request to ${gateway.servers} server port(s), up since ${gateway.since}: ${gateway.denied} refused, ${gateway.failOpen} passed unchecked on its own faults.`,
    );
  return parts.join(' ');
}

function gatewayView(s: GatewayState): EnforcementView['gateway'] {
  if (s.state === 'none') return { state: 'none' };
  const servers = s.health.targets.length;
  if (s.state === 'up')
    return {
      state: 'up',
      since: s.health.startedAt,
      servers,
      policySha: s.health.policySha,
      denied: s.health.stats.pdusDenied ?? 0,
      failOpen: s.health.stats.failOpen ?? 0,
      testFault: s.health.testFault ?? null,
    };
  return {
    state: 'down',
    since: s.since,
    servers,
    reason: downReason(s.health),
    testFault: s.health.testFault ?? null,
  };
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
