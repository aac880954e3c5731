import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The Node flags a build's own launcher (bin/weir) starts packet-reading commands with, read from that build's
 * launcher, so a bench measures each build as `weir discover` runs it and follows the launcher when it changes.
 * `dist` is the build's dist folder; a build without a launcher, or one that passes no flags, gets none.
 */
export function launcherFlags(dist: string): string[] {
  let text: string;
  try {
    text = readFileSync(path.join(path.dirname(dist), 'bin/weir'), 'utf8');
  } catch {
    return [];
  }
  // The packet-reading branch: the exec line that passes V8 flags before "$main".
  for (const line of text.split('\n')) {
    const m = /^\s*exec\s+"\$\{WEIR_NODE:-node\}"\s+(.*?)\s*"\$main"/.exec(line);
    if (m && m[1]!.includes('--')) return m[1]!.split(/\s+/).filter((f) => f.startsWith('--'));
  }
  return [];
}
