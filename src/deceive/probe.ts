import { execFile } from 'node:child_process';

/** RFC 5227's probe: PROBE_NUM probes a second apart, then a wait for a late answer (PROBE_MAX/ANNOUNCE_WAIT). */
const PROBES = 3;
const WAIT_S = 4;

/**
 * The two arpings Debian ships, which conflict with each other and share a name but not options or exit codes:
 * iputils' (package iputils-arping) and Thomas Habets' (package arping). Habets' reads iputils' `-D` as a display
 * mode and exits 0 when replies came, so the same command line reads a held address as free under the other one.
 */
export type ArpingKind = 'iputils' | 'habets';

/**
 * Which arping printed this answer to `arping -V`: iputils prints its version ("arping from iputils 20221126",
 * older "arping utility, iputils-s20180629"); Habets' takes -V for a VLAN and prints its banner ("ARPing 2.23, by
 * Thomas Habets") with its usage. Null for anything else: a probe whose answers cannot be read is no probe.
 */
export function arpingKind(versionOutput: string): ArpingKind | null {
  if (/\biputils\b/i.test(versionOutput)) return 'iputils';
  if (/^ARPing \d+\.\d+.*Habets/m.test(versionOutput)) return 'habets';
  return null;
}

/** The arping arguments of an RFC 5227 probe (sender 0.0.0.0, the interface's MAC) for `address` from `dev`. */
export function probeArgs(kind: ArpingKind, dev: string, address: string): string[] {
  const n = ['-c', String(PROBES), '-w', String(WAIT_S)];
  return kind === 'iputils'
    ? ['-D', ...n, '-I', dev, address]
    : // Habets': -0 is sender 0.0.0.0; its -D would be a display mode.
      ['-0', ...n, '-i', dev, address];
}

/**
 * What a probe's run says: the MAC that answered, null when nobody did, or an Error when it cannot be told (an
 * error of arping's, an output of neither form). `code` is the exit code (0 for success).
 */
export function readProbe(kind: ArpingKind, code: number, stdout: string): string | null | Error {
  if (kind === 'iputils') {
    // arping -D: exit 0 when nobody answered, 1 when someone did (its line names the MAC), 2 on an error.
    if (code === 0) return null;
    const mac = /reply from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(stdout)?.[1];
    if (code === 1 && mac !== undefined) return mac.toLowerCase();
    return new Error(`iputils arping exited ${code} without naming a MAC`);
  }
  // Habets': a line per reply ("42 bytes from MAC (address): …"), exit 0 when one came, 1 when none did, and 1
  // on an error too: free only when its statistics say probes went out and nothing came back.
  const mac = /bytes from ([0-9A-Fa-f:]{17}) \(/.exec(stdout)?.[1];
  if (mac !== undefined) return mac.toLowerCase();
  const sent = /(\d+) packets transmitted, (\d+) packets received/.exec(stdout);
  if (code === 1 && sent !== null && Number(sent[1]) > 0 && sent[2] === '0') return null;
  return new Error(`Habets' arping exited ${code} without its statistics`);
}

let installed: Promise<ArpingKind> | null = null;

/** Which arping the host has (asked once: a namespace changes the network, not the binary). */
function installedArping(ns: string): Promise<ArpingKind> {
  installed ??= new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, 'arping', '-V'], (err, stdout, stderr) => {
      const kind = arpingKind(`${stdout}\n${stderr}`);
      if (kind !== null) return resolve(kind);
      installed = null;
      const said = `${stdout}${stderr}`.trim() || (err?.message ?? 'no output');
      reject(
        new Error(
          `no arping whose answers Weir can read (${said}): install iputils-arping (or Habets' arping)`,
        ),
      );
    });
  });
  return installed;
}

/**
 * Ask the segment whether anyone holds `address` before a decoy takes it: an RFC 5227 ARP probe (sender address
 * 0.0.0.0, so no cache learns anything) from `dev` in namespace `ns`, sent by whichever arping the host has
 * (iputils' or Habets', told apart first). Resolves with the MAC that answered, or null when nobody did. Throws
 * when no probe could be sent or read: a decoy never takes an address unprobed.
 */
export async function probeAddress(
  ns: string,
  dev: string,
  address: string,
): Promise<string | null> {
  const fail = (why: string): Error =>
    new Error(`the ARP probe for ${address} failed (${why}): a decoy takes no address unprobed`);
  let kind: ArpingKind;
  try {
    kind = await installedArping(ns);
  } catch (e) {
    throw fail((e as Error).message);
  }
  return new Promise((resolve, reject) => {
    execFile(
      'ip',
      ['netns', 'exec', ns, 'arping', ...probeArgs(kind, dev, address)],
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        const r = readProbe(kind, code, stdout);
        if (!(r instanceof Error)) return resolve(r);
        reject(fail(`${stderr}`.trim() || r.message));
      },
    );
  });
}
