// When each address reached a blocklist set, by the kernel's own notification: `nft monitor new elements`, each
// line stamped on arrival by a process that does nothing else (the benchmark's own event loop may be busy).
// Line-buffered: nft writes to a pipe through stdio, which would hold events back.
import type { Readable } from 'node:stream';

/** The stamping process's script, for `node -e` in the namespace whose ruleset is watched. */
export const NFT_STAMP_SCRIPT = `const c=require('child_process').spawn('stdbuf',['-oL','nft','monitor','new','elements']);let b='';c.stdout.on('data',d=>{const t=performance.timeOrigin+performance.now();b+=d;let i;while((i=b.indexOf('\\n'))>=0){process.stdout.write(t.toFixed(3)+' '+b.slice(0,i)+'\\n');b=b.slice(i+1);}});process.on('SIGTERM',()=>{c.kill();process.exit(0);});`;

/** Record in `seen` the first arrival (epoch ms) of each address added to a blocklist, from the stamped lines. */
export function recordBlocklistArrivals(stamped: Readable, seen: Map<string, number>): void {
  let buf = '';
  stamped.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const m = /^([0-9.]+) .*blocklist \{ ([0-9.]+)[ }]/.exec(line);
      if (m && !seen.has(m[2]!)) seen.set(m[2]!, Number(m[1]));
    }
  });
}
