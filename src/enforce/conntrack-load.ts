import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

// Replies pass only for connections conntrack tracks, so a full table is an outage: the kernel drops new
// connections it cannot track, plant traffic included, and any host of the plant can fill it (review 12b, B10).
// Status shows the table's fill and the kernel's own count of those drops.

const COUNT = '/proc/sys/net/netfilter/nf_conntrack_count';
const MAX = '/proc/sys/net/netfilter/nf_conntrack_max';
const STAT = '/proc/net/stat/nf_conntrack';
/** Changes at each boot: the kernel's counters start again from 0. */
const BOOT_ID = '/proc/sys/kernel/random/boot_id';

export interface ConntrackLoad {
  entries: number;
  max: number;
  /** New connections the kernel dropped since boot (or the namespace's start) because the table was full. */
  dropped: number;
  /** Entries evicted early to make room (unconfirmed, unreplied ones). */
  earlyDropped: number;
  /**
   * Which run of the counters this is: the boot id and the network namespace (a reboot, or a namespace made
   * again, starts them from 0). Absent when unread.
   */
  epoch?: string;
}

/** Fill at which status warns: beyond it, a burst of new connections meets a full table. */
export const CONNTRACK_WARN = 0.8;

/** Sum a column of /proc/net/stat/nf_conntrack (one line per CPU, hex) by its header name. */
export function statColumn(text: string, name: string): number {
  const lines = text.trim().split('\n');
  const col = (lines[0] ?? '').trim().split(/\s+/).indexOf(name);
  if (col < 0) return 0;
  let n = 0;
  for (const line of lines.slice(1)) {
    const v = Number.parseInt(line.trim().split(/\s+/)[col] ?? '0', 16);
    if (Number.isFinite(v)) n += v;
  }
  return n;
}

export function parseConntrack(count: string, max: string, stat: string): ConntrackLoad {
  return {
    entries: Number.parseInt(count, 10),
    max: Number.parseInt(max, 10),
    dropped: statColumn(stat, 'drop'),
    earlyDropped: statColumn(stat, 'early_drop'),
  };
}

/** The table of the enforcement namespace (or this one), null when conntrack is not loaded or unreadable. */
export function readConntrack(
  netns?: string,
  o: { bootIdFile?: string } = {},
): ConntrackLoad | null {
  const bootIdFile = o.bootIdFile ?? BOOT_ID;
  try {
    if (netns === undefined)
      return withEpoch(
        parseConntrack(
          readFileSync(COUNT, 'utf8'),
          readFileSync(MAX, 'utf8'),
          readFileSync(STAT, 'utf8'),
        ),
        bootIdFile,
        readlinkSync('/proc/self/ns/net'),
      );
    // One process reads all three inside the namespace, and which namespace it is; "--" lines split them.
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        netns,
        'sh',
        '-c',
        `cat ${COUNT}; echo --; cat ${MAX}; echo --; cat ${STAT}; echo --; readlink /proc/self/ns/net`,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 },
    );
    const [count = '', max = '', stat = '', ns = ''] = out.split('--\n');
    return withEpoch(parseConntrack(count, max, stat), bootIdFile, ns);
  } catch {
    return null;
  }
}

function withEpoch(c: ConntrackLoad, bootIdFile: string, ns: string): ConntrackLoad {
  try {
    return { ...c, epoch: `${readFileSync(bootIdFile, 'utf8').trim()} ${ns.trim()}` };
  } catch {
    return c;
  }
}

/**
 * The kernel's drops since the policy went in: its count less the count at the apply, when both are of one run
 * of the counters. After a reboot (or the namespace made again) the count starts from 0, so a baseline of an
 * earlier run would hide every drop until the new count passed it (review 13, L2): then all drops count.
 */
export function dropsSinceApply(
  ct: ConntrackLoad,
  applied: { conntrackDroppedAtApply?: number; conntrackEpochAtApply?: string } | null,
): number {
  const base = applied?.conntrackDroppedAtApply ?? 0;
  const sameRun =
    applied?.conntrackEpochAtApply === undefined || ct.epoch === undefined
      ? ct.dropped >= base // a record of an older build: a count below its baseline started again
      : applied.conntrackEpochAtApply === ct.epoch;
  return sameRun ? Math.max(0, ct.dropped - base) : ct.dropped;
}

/** A line for status when the table is nearly full or has dropped connections; null when all is well. */
export function conntrackNotice(c: ConntrackLoad | null): string | null {
  if (c === null || !(c.max > 0)) return null;
  const pct = Math.round((100 * c.entries) / c.max);
  const parts: string[] = [];
  if (c.dropped > 0)
    parts.push(`the kernel dropped ${c.dropped} new connection(s) because the table was full`);
  if (c.entries >= CONNTRACK_WARN * c.max)
    parts.push(`${c.entries} of ${c.max} entries in use (${pct}%)`);
  if (parts.length === 0) return null;
  return `conntrack: ${parts.join('; ')}: replies of untracked connections are refused (a host flooding new connections, or nf_conntrack_max too low)`;
}
