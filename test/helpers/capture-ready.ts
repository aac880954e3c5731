// Waiting for a live capture to listen, instead of sleeping and hoping: a packet sent before the capture
// program has opened its interface is simply never seen, and a loaded machine can take seconds to get there.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's argv[0] and effective capabilities, or null once it is gone. */
function proc(pid: string): { argv0: string; capEff: string } | null {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    const capEff =
      /^CapEff:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
    return { argv0, capEff };
  } catch {
    return null;
  }
}

/**
 * Resolves with its pid once a capture program (weir-capture or the tcpdump fallback) runs in namespace `ns`
 * with no capabilities left: both give them up right after opening the interface and setting the filter, so
 * from then on they capture. Throws after `ms`.
 */
export async function captureListening(ns: string, ms = 30_000): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const pids = execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      const p = proc(pid);
      if (p && /(^|\/)(weir-capture|tcpdump)$/.test(p.argv0) && /^0+$/.test(p.capEff)) {
        await sleep(100); // its "listening" line follows the drop at once
        return pid;
      }
    }
    await sleep(100);
  }
  throw new Error(`no capture program listening in ${ns} after ${ms} ms`);
}
