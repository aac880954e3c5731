// Golden files of whole Messages: every fixture of the project (fixtures/ and the sessions test/fixtures-gen
// crafts) dissected as `weir dissect --all --jsonl` prints it, one file per protocol under test/dissect/golden/.
// The tshark comparison checks function codes; these catch any change in any field (targets, values, identity,
// fields, anomalies). After an intended change, regenerate and review the diff:
//
//   npm run build && UPDATE_GOLDEN=1 node --test dist/test/dissect/golden.test.js && git diff test/dissect/golden
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { readCaptureSync } from '../../src/capture/source.js';
import { messageJson } from '../../src/cli/commands/dissect.js';
import { protocolDescriptor } from '../../src/dissect/registry.js';
import { repoRoot } from '../helpers/paths.js';
import { s7FragmentedSession, s7NormalSession } from '../fixtures-gen/s7-fragments.js';
import { dnp3Session } from '../fixtures-gen/dnp3-frames.js';
import { enipSession } from '../fixtures-gen/enip-session.js';
import { enipIoSession } from '../fixtures-gen/enip-io.js';
import { umasSession } from '../fixtures-gen/umas-session.js';
import { slmpSession } from '../fixtures-gen/slmp-session.js';
import { mmsSession } from '../fixtures-gen/mms-session.js';
import { gooseAttacks, gooseNormal, svStream } from '../fixtures-gen/goose-frames.js';
import { profinetIoSession } from '../fixtures-gen/profinet-io-session.js';
import { c37118Session } from '../fixtures-gen/c37118-session.js';
import { tmpdir } from 'node:os';

const GOLDEN = path.join(repoRoot, 'test', 'dissect', 'golden');
const update = process.env.UPDATE_GOLDEN === '1';

/** Every capture the project ships or crafts, by the name the golden lines carry. */
function captures(dir: string): Array<[string, string]> {
  const fixtures = path.join(repoRoot, 'fixtures');
  const shipped = readdirSync(fixtures)
    .filter((n) => n.endsWith('.pcap') || n.endsWith('.pcapng'))
    .sort()
    .map((n): [string, string] => [`fixtures/${n}`, path.join(fixtures, n)]);
  // Crafted sessions that are not shipped (fixtures/iec104-session.pcap and identity.pcap are written by
  // test/fixtures-gen/write.ts and already listed).
  const crafted: Array<[string, Buffer]> = [
    ['gen/s7-normal.pcap', s7NormalSession(3)],
    ['gen/s7-fragmented.pcap', s7FragmentedSession().pcap],
    ['gen/dnp3-session.pcap', dnp3Session()],
    ['gen/enip-session.pcap', enipSession()],
    ['gen/enip-io.pcap', enipIoSession()],
    ['gen/umas-session.pcap', umasSession()],
    ['gen/slmp-session.pcap', slmpSession()],
    ['gen/mms-session.pcap', mmsSession()],
    ['gen/goose-normal.pcap', gooseNormal()],
    ['gen/goose-attacks.pcap', gooseAttacks()],
    ['gen/sv-stream.pcap', svStream()],
    ['gen/profinet-io-session.pcap', profinetIoSession()],
    ['gen/c37118-session.pcap', c37118Session()],
  ];
  return [
    ...shipped,
    ...crafted.map(([name, bytes]): [string, string] => {
      const file = path.join(dir, path.basename(name));
      writeFileSync(file, bytes);
      return [name, file];
    }),
  ];
}

/** The golden lines per protocol: capture name first, then the message exactly as `weir dissect --jsonl` has it. */
function dissectAll(dir: string): Map<string, string[]> {
  const byProtocol = new Map<string, string[]>();
  for (const [name, file] of captures(dir)) {
    const p = new DissectPipeline({
      onMessage(m) {
        const kind = m.anomaly?.kind;
        if (kind !== undefined)
          assert.ok(
            protocolDescriptor(m.protocol)?.anomalies.includes(kind),
            `${name} frame ${m.frame}: ${m.protocol} anomaly kind '${kind}' is not in its descriptor`,
          );
        let lines = byProtocol.get(m.protocol);
        if (lines === undefined) byProtocol.set(m.protocol, (lines = []));
        lines.push(JSON.stringify({ capture: name, ...messageJson(m) }));
      },
    });
    readCaptureSync(file, (f) => p.push(f));
  }
  return byProtocol;
}

test('every fixture dissects to its golden messages, field by field', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-golden-'));
  try {
    const now = dissectAll(dir);
    if (update) {
      rmSync(GOLDEN, { recursive: true, force: true });
      mkdirSync(GOLDEN, { recursive: true });
      for (const [protocol, lines] of now)
        writeFileSync(path.join(GOLDEN, `${protocol}.jsonl`), `${lines.join('\n')}\n`);
    }
    const kept = readdirSync(GOLDEN)
      .filter((n) => n.endsWith('.jsonl'))
      .map((n) => n.slice(0, -'.jsonl'.length))
      .sort();
    assert.deepEqual([...now.keys()].sort(), kept, 'protocols seen vs golden files kept');
    for (const protocol of kept) {
      const want = readFileSync(path.join(GOLDEN, `${protocol}.jsonl`), 'utf8')
        .trimEnd()
        .split('\n');
      const got = now.get(protocol)!;
      // The first differing line, both ways, reads better than a diff of thousands of lines.
      const i = want.findIndex((w, k) => w !== got[k]);
      if (i !== -1 || want.length !== got.length) {
        const at = i === -1 ? Math.min(want.length, got.length) : i;
        assert.fail(
          `${protocol}.jsonl differs at line ${at + 1} (${got.length} messages now, ${want.length} kept)\n` +
            `  kept: ${want[at] ?? '(none)'}\n  now:  ${got[at] ?? '(none)'}\n` +
            'If the change is intended: UPDATE_GOLDEN=1 node --test dist/test/dissect/golden.test.js, then review git diff.',
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
