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

/**
 * The environment a build's launcher adds for packet-reading commands (its GLIBC_TUNABLES line, if any), on top
 * of this process's, so a bench measures each build's malloc settings as `weir discover` gets them.
 */
export function launcherEnv(dist: string): NodeJS.ProcessEnv {
  let text: string;
  try {
    text = readFileSync(path.join(path.dirname(dist), 'bin/weir'), 'utf8');
  } catch {
    return { ...process.env };
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.GLIBC_TUNABLES;
  // The first branch of the launcher's case, the packet-reading commands, sets it as ${GLIBC_TUNABLES:+…:}VALUE.
  const m = /^\s*GLIBC_TUNABLES=\$\{GLIBC_TUNABLES:\+\$GLIBC_TUNABLES:\}(\S+)\s*$/m.exec(text);
  if (m) env.GLIBC_TUNABLES = m[1]!;
  return env;
}
