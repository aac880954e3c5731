// The decoys' RFC 5227 probe under both arpings Debian ships (review 12b, B8): iputils' and Thomas Habets' share
// a name but not options or exit codes, so the probe tells them apart and reads each its own way; anything else
// is refused. The outputs below are the real programs' (iputils-arping 20221126, arping 2.23, Debian 12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arpingKind, probeArgs, readProbe } from '../../src/deceive/probe.js';
import { repoRoot } from '../helpers/paths.js';

const IPUTILS_V = 'arping from iputils 20221126\nlibcap: yes, IDN: yes, NLS: no, error.h: yes\n';
const HABETS_V = `ARPing 2.23, by Thomas Habets <thomas@habets.se>
usage: arping [ -0aAbdDeFpPqrRuUvzZ ] [ -w <sec> ] [ -W <sec> ] [ -S <host/ip> ]
/usr/sbin/arping: option requires an argument -- 'V'`;

const IPUTILS_HELD = `ARPING 10.213.0.5 from 0.0.0.0 eth0
Unicast reply from 10.213.0.5 [76:8E:FF:4A:D3:C1]  0.537ms
Sent 1 probes (1 broadcast(s))
Received 1 response(s)
`;
const IPUTILS_FREE = `ARPING 10.213.0.9 from 0.0.0.0 eth0
Sent 3 probes (3 broadcast(s))
Received 0 response(s)
`;
const HABETS_HELD = `ARPING 10.213.0.5
42 bytes from 76:8e:ff:4a:d3:c1 (10.213.0.5): index=0 time=18.686 usec
42 bytes from 76:8e:ff:4a:d3:c1 (10.213.0.5): index=1 time=7.865 usec

--- 10.213.0.5 statistics ---
3 packets transmitted, 3 packets received,   0% unanswered (0 extra)
`;
const HABETS_FREE = `ARPING 10.213.0.9
Timeout
Timeout
Timeout

--- 10.213.0.9 statistics ---
3 packets transmitted, 0 packets received, 100% unanswered (0 extra)
`;
// Habets' arping given iputils' command line (-D is its display mode): a held address, exit 0.
const HABETS_DISPLAY_MODE = '!!!\t  0% packet loss (0 extra)\n';

test('the probe tells the two arpings apart by `arping -V` and refuses any other', () => {
  assert.equal(arpingKind(IPUTILS_V), 'iputils');
  assert.equal(arpingKind('arping utility, iputils-s20180629\n'), 'iputils');
  assert.equal(arpingKind(HABETS_V), 'habets');
  assert.equal(arpingKind(''), null);
  assert.equal(arpingKind('busybox arping: unrecognized option'), null);
});

test('each arping gets its own RFC 5227 command line: sender 0.0.0.0, the decoy interface', () => {
  assert.deepEqual(probeArgs('iputils', 'eth0', '10.0.0.5'), [
    '-D',
    '-c',
    '3',
    '-w',
    '4',
    '-I',
    'eth0',
    '10.0.0.5',
  ]);
  const h = probeArgs('habets', 'eth0', '10.0.0.5');
  assert.ok(h.includes('-0') && !h.includes('-D'), h.join(' '));
  assert.equal(h[h.indexOf('-i') + 1], 'eth0');
});

test("each arping's answer is read its own way: a held address names its holder, never reads as free", () => {
  assert.equal(readProbe('iputils', 1, IPUTILS_HELD), '76:8e:ff:4a:d3:c1');
  assert.equal(readProbe('iputils', 0, IPUTILS_FREE), null);
  assert.ok(readProbe('iputils', 2, 'arping: interface eth9 not found') instanceof Error);
  assert.equal(readProbe('habets', 0, HABETS_HELD), '76:8e:ff:4a:d3:c1');
  assert.equal(readProbe('habets', 1, HABETS_FREE), null);
  // Habets' exits 1 on its own errors as on silence: without its statistics it is no answer.
  assert.ok(readProbe('habets', 1, '') instanceof Error);
  // The display mode a wrong command line would give: no MAC, no statistics — an error, not "free".
  assert.ok(readProbe('habets', 0, HABETS_DISPLAY_MODE) instanceof Error);
});

const probeJs = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../src/deceive/probe.js',
);

/**
 * A real probe from namespace A for a held and a free address (B holds .5) with the arping at `bin` first on the
 * PATH (the host's when null); in a child, since the module asks once per process which arping it has.
 */
function probeBoth(bin: string | null): Array<string | null> {
  const a = `wdp13a${process.pid % 10000}`,
    b = `wdp13b${process.pid % 10000}`;
  const run = (...x: string[]) => execFileSync('ip', x, { stdio: ['ignore', 'ignore', 'pipe'] });
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-arping-'));
  try {
    run('netns', 'add', a);
    run('netns', 'add', b);
    run('-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b);
    run('-n', a, 'link', 'set', 'eth0', 'up');
    run('-n', b, 'link', 'set', 'eth0', 'up');
    run('-n', b, 'addr', 'add', '10.213.0.5/24', 'dev', 'eth0');
    if (bin !== null) symlinkSync(bin, path.join(dir, 'arping'));
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { probeAddress } = await import(${JSON.stringify(probeJs)});
         const r = [await probeAddress('${a}', 'eth0', '10.213.0.5'), await probeAddress('${a}', 'eth0', '10.213.0.9')];
         process.stdout.write(JSON.stringify(r));`,
      ],
      { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, timeout: 60_000 },
    ).toString();
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(
      execFileSync('ip', ['-n', b, 'link', 'show', 'eth0']).toString(),
    )![1]!;
    return (JSON.parse(out) as Array<string | null>).map((m) => (m === mac ? 'holder' : m));
  } finally {
    for (const ns of [a, b])
      try {
        run('netns', 'del', ns);
      } catch {
        /* not made */
      }
    rmSync(dir, { recursive: true, force: true });
  }
}

const root = process.getuid?.() === 0;

test("a real probe with the host's arping: the held address names its holder, the free one is free", (t) => {
  if (!root) return t.skip('needs root to build network namespaces');
  assert.deepEqual(probeBoth(null), ['holder', null]);
});

// scripts/install-deps.sh unpacks Habets' arping beside iputils' (the packages conflict); WEIR_TEST_HABETS_ARPING
// may name another binary.
const habets =
  process.env.WEIR_TEST_HABETS_ARPING ?? path.join(repoRoot, '.deps/habets-arping/usr/sbin/arping');

test("a real probe with Habets' arping (unpacked by install-deps)", (t) => {
  if (!root || !existsSync(habets)) {
    if (process.env.CI === 'true')
      throw new Error(`needs root and Habets' arping at ${habets} (scripts/install-deps.sh)`);
    return t.skip("needs root and Habets' arping (scripts/install-deps.sh unpacks it)");
  }
  const bin = habets;
  assert.deepEqual(probeBoth(bin), ['holder', null]);
});
