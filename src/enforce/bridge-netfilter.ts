// The bridge ruleset tells a reply from a new connection by conntrack, which bridged frames meet only through
// br_netfilter (it hands them to the IP hooks; the bridge family has no conntrack of its own on this kernel).
// Without it every reply of an allowed flow would be refused, so a bridge ruleset is loaded only with it on.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

/** Where the settings live: the host's network namespace, or a named one (nft.ts's NftTarget fits). */
interface Netns {
  netns?: string;
}

/** What conntrack must see: bridged IPv4 and IPv6, VLAN-tagged frames (one tag, stripped by the kernel) too. */
const KNOBS = [
  'bridge-nf-call-iptables',
  'bridge-nf-call-ip6tables',
  'bridge-nf-filter-vlan-tagged',
];

function sysctl(target: Netns, knob: string, value?: '1'): string | null {
  const file = `/proc/sys/net/bridge/${knob}`;
  if (!target.netns) {
    try {
      if (value) writeFileSync(file, value);
      return readFileSync(file, 'utf8').trim();
    } catch {
      return null;
    }
  }
  // /proc/sys/net shows the network namespace of the reader: read and write from inside it.
  const r = spawnSync(
    'ip',
    [
      'netns',
      'exec',
      target.netns,
      'sh',
      '-c',
      value ? `echo ${value} > ${file} && cat ${file}` : `cat ${file}`,
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * Switch on what the bridge ruleset needs (in the target's network namespace). Returns the settings it switched
 * on, to be said in the apply's output; throws when br_netfilter is not loaded at all.
 */
const NOT_LOADED =
  'br_netfilter is not loaded: the bridge ruleset tells replies from new connections by conntrack, which bridged traffic meets only through it (modprobe br_netfilter, list it in /etc/modules-load.d, and apply again)';

/** Throws when br_netfilter is not loaded (read only: before anything of an apply changes). */
export function checkBridgeNetfilter(target: Netns): void {
  if (sysctl(target, KNOBS[0]!) === null) throw new Error(NOT_LOADED);
}

export function ensureBridgeConntrack(target: Netns): string[] {
  const on: string[] = [];
  for (const knob of KNOBS) {
    const now = sysctl(target, knob);
    if (now === null) throw new Error(NOT_LOADED);
    if (now === '1') continue;
    if (sysctl(target, knob, '1') !== '1')
      throw new Error(`cannot set net.bridge.${knob}=1, which the bridge ruleset needs`);
    on.push(`net.bridge.${knob}=1`);
  }
  return on;
}
