import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The lines of the launcher's `case $cmd in` branch that runs `command` (a pattern line such as
 * `discover | dissect | learn)` names it), read from the build's own launcher (bin/weir); none when no branch
 * names it, null when the build has no launcher.
 */
function branchOf(dist: string, command: string): string[] | null {
  let text: string;
  try {
    text = readFileSync(path.join(path.dirname(dist), 'bin/weir'), 'utf8');
  } catch {
    return null;
  }
  let lines: string[] | null = null;
  for (const line of text.split('\n')) {
    const pattern = /^\s*([a-z][a-z |]*)\)\s*$/.exec(line);
    if (pattern) {
      if (lines !== null) break;
      if (pattern[1]!.split('|').some((c) => c.trim() === command)) lines = [];
      continue;
    }
    if (lines === null) continue;
    if (/^\s*;;\s*$/.test(line)) break;
    lines.push(line);
  }
  return lines ?? [];
}

/**
 * The Node flags a build's own launcher (bin/weir) starts `command` with (default `weir discover`), read from
 * that build's launcher, so a bench measures each build as the command runs and follows the launcher when it
 * changes. `dist` is the build's dist folder; a build without a launcher, or one that passes no flags, gets none.
 */
export function launcherFlags(dist: string, command = 'discover'): string[] {
  // The branch's exec line, which passes V8 flags before "$main".
  for (const line of branchOf(dist, command) ?? []) {
    const m = /^\s*exec\s+"\$\{WEIR_NODE:-node\}"\s+(.*?)\s*"\$main"/.exec(line);
    if (m && m[1]!.includes('--')) return m[1]!.split(/\s+/).filter((f) => f.startsWith('--'));
  }
  return [];
}

/**
 * The environment a build's launcher adds for `command` (default `weir discover`: its GLIBC_TUNABLES line, if
 * any), on top of this process's, so a bench measures each build's malloc settings as the command gets them.
 */
export function launcherEnv(dist: string, command = 'discover'): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const branch = branchOf(dist, command);
  if (branch === null) return env;
  delete env.GLIBC_TUNABLES;
  // Set in the branch as ${GLIBC_TUNABLES:+…:}VALUE.
  for (const line of branch) {
    const m = /^\s*GLIBC_TUNABLES=\$\{GLIBC_TUNABLES:\+\$GLIBC_TUNABLES:\}(\S+)\s*$/.exec(line);
    if (m) env.GLIBC_TUNABLES = m[1]!;
  }
  return env;
}
