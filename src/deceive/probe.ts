import { execFile } from 'node:child_process';

/** RFC 5227's probe: PROBE_NUM probes a second apart, then a wait for a late answer (PROBE_MAX/ANNOUNCE_WAIT). */
const PROBES = 3;
const WAIT_S = 4;

/**
 * Ask the segment whether anyone holds `address` before a decoy takes it: an RFC 5227 ARP probe (sender address
 * 0.0.0.0, so no cache learns anything) from `dev` in namespace `ns`, sent by arping (iputils-arping). Resolves
 * with the MAC that answered, or null when nobody did. Throws when no probe could be sent: a decoy never takes
 * an address unprobed.
 */
export function probeAddress(ns: string, dev: string, address: string): Promise<string | null> {
  const args = ['netns', 'exec', ns, 'arping', '-D', '-c', String(PROBES), '-w', String(WAIT_S)];
  return new Promise((resolve, reject) => {
    execFile('ip', [...args, '-I', dev, address], (err, stdout, stderr) => {
      // arping -D: exit 0 when nobody answered, 1 when someone did (its line names the MAC), 2 on an error.
      if (err === null) return resolve(null);
      const mac = /reply from \S+ \[([0-9A-Fa-f:]{17})\]/.exec(stdout)?.[1];
      if (err.code === 1 && mac !== undefined) return resolve(mac.toLowerCase());
      const why = `${stderr}`.trim() || err.message;
      reject(
        new Error(
          `the ARP probe for ${address} failed (${why}): a decoy takes no address unprobed (arping is in iputils-arping)`,
        ),
      );
    });
  });
}
