import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Replies pass only for connections conntrack tracks, so a full table is an outage: the kernel drops new
// connections it cannot track, plant traffic included, and any host of the plant can fill it (review 12b, B10).
// Status shows the table's fill and the kernel's own count of those drops.

const COUNT = '/proc/sys/net/netfilter/nf_conntrack_count';
const MAX = '/proc/sys/net/netfilter/nf_conntrack_max';
const STAT = '/proc/net/stat/nf_conntrack';

export interface ConntrackLoad {
  entries: number;
  max: number;
  /** New connections the kernel dropped since boot (or the namespace's start) because the table was full. */
  dropped: number;
  /** Entries evicted early to make room (unconfirmed, unreplied ones). */
  earlyDropped: number;
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
export function readConntrack(netns?: string): ConntrackLoad | null {
  try {
    if (netns === undefined)
      return parseConntrack(
        readFileSync(COUNT, 'utf8'),
        readFileSync(MAX, 'utf8'),
        readFileSync(STAT, 'utf8'),
      );
    // One process reads all three inside the namespace; "--" lines split them.
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        netns,
        'sh',
        '-c',
        `cat ${COUNT}; echo --; cat ${MAX}; echo --; cat ${STAT}`,
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 },
    );
    const [count = '', max = '', stat = ''] = out.split('--\n');
    return parseConntrack(count, max, stat);
  } catch {
    return null;
  }
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
