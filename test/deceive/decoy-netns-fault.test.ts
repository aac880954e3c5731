// Review 13 L6: a decoy namespace whose build fails part-way must leave no macvlan wearing a decoy MAC in the
// sensor's own namespace (re-probes and cover probes build many, so leftovers would pile up). The failure is
// forced by an `ip` earlier on PATH that fails the first command after the macvlan is made; the sensor is a
// namespace of the test's own, so its links can be listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canBuildLab } from '../lab/plant.js';

const netns = fileURLToPath(new URL('../../src/deceive/netns.js', import.meta.url));
const MAC = '00:0e:8c:5e:6f:01';

test('a decoy namespace whose build fails after the macvlan is made leaves no macvlan behind in the sensor namespace', async (t) => {
  if (!canBuildLab()) {
    if (process.env.CI === 'true') throw new Error('the netns fault test needs root and iproute2');
    return t.skip('needs root to build network namespaces');
  }
  const realIp = execFileSync('sh', ['-c', 'command -v ip']).toString().trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-netnsfault-'));
  const sensor = `wnf${process.pid}`;
  const probeNs = `${sensor}-p`;
  // Fails once, the first `ip` after a `link add` succeeded: whatever build does next.
  writeFileSync(
    path.join(dir, 'ip'),
    `#!/bin/sh
d='${dir}'
if [ -e "$d/armed" ] && [ ! -e "$d/fired" ]; then : > "$d/fired"; echo "forced failure: ip $*" >&2; exit 2; fi
if [ "$1" = link ] && [ "$2" = add ]; then '${realIp}' "$@" || exit $?; : > "$d/armed"; exit 0; fi
exec '${realIp}' "$@"
`,
  );
  chmodSync(path.join(dir, 'ip'), 0o755);
  const ip = (...a: string[]) => execFileSync(realIp, a, { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    ip('netns', 'add', sensor);
    ip('-n', sensor, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0');
    ip('-n', sensor, 'link', 'set', 'eth0', 'up');
    const script = `import(${JSON.stringify(netns)}).then((m) => m.DecoyHost.probeOnly(${JSON.stringify(probeNs)}, 'eth0', ${JSON.stringify(MAC)}, '10.77.0.51')).then(() => console.log('probed'), (e) => console.log('failed: ' + e.message));`;
    const out = execFileSync(
      realIp,
      ['netns', 'exec', sensor, process.execPath, '--input-type=module', '-e', script],
      { env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } },
    ).toString();
    t.diagnostic(out.trim());
    assert.match(out, /failed: [\s\S]*forced failure/, 'the build failed where it was made to');
    const left = JSON.parse(ip('-j', '-n', sensor, 'link', 'show').toString()) as Array<{
      ifname: string;
      address?: string;
    }>;
    assert.deepEqual(
      left.filter((l) => l.address === MAC).map((l) => l.ifname),
      [],
      'a macvlan with the decoy MAC was left in the sensor namespace',
    );
    assert.doesNotMatch(ip('netns', 'list').toString(), new RegExp(`^${probeNs}\\b`, 'm'));
  } finally {
    for (const ns of [probeNs, sensor])
      try {
        ip('netns', 'del', ns);
      } catch {
        /* not there */
      }
    rmSync(dir, { recursive: true, force: true });
  }
});
