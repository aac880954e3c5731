// Live playbooks need the baseline for their whole run (which sources are known, which learned flows a block would
// cut). They read the parsed one only at the start and keep what they need of it (with `weir detect`, the engine's
// compiled asset set), so the parsed document can be dropped, as the engine's compiled baseline lets it be: what
// they decide must be what they decided from the parsed one, and they must keep none of its records alive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Baseline, EdgeProfile } from '../../src/discover/baseline.js';
import { edgeId } from '../../src/discover/edge-table.js';
import { CompiledBaseline } from '../../src/detect/profile.js';
import { BlockGuard } from '../../src/respond/playbook-guard.js';
import { PlaybookRunner } from '../../src/respond/playbooks.js';
import type { CutFlow } from '../../src/respond/block-impact.js';
import type { PlaybookKernel } from '../../src/respond/playbook-kernel.js';
import type { Detection } from '../../src/detect/detection.js';
import { openStore } from '../../src/store/db.js';
import { parsePolicy } from '../../src/policy/load.js';
import { plantBaseline } from '../helpers/plant-fixtures.js';
import { learnedEdge } from '../helpers/edge-profile.js';

function edge(
  client: string,
  server: string,
  transport: EdgeProfile['transport'],
  port: number,
  proto: number,
  over: Partial<EdgeProfile> = {},
): EdgeProfile {
  const id = edgeId(client, server, transport, port, proto);
  return learnedEdge({ id, client, server, transport, port }, over);
}

/** The plant's baseline plus edges of every transport, IPv6, shared and empty lists. */
function baseline(): Baseline {
  const b = plantBaseline();
  for (const e of [
    edge('10.77.0.10', '10.77.0.21', 'udp', 47808, 17, {
      protocols: ['bacnet'],
      functions: ['bacnet:12', 'bacnet:14'],
      requests: 99,
    }),
    edge('10.77.0.66', '10.77.0.21', 'ip', 0, 1, { protocols: ['icmp'], functions: [] }),
    edge('10.77.0.21', '10.77.0.10', 'ip', 0, 47, { protocols: [], functions: [], requests: 0 }),
    edge('fe80::10', 'fe80::21', 'tcp', 502, 6),
    edge('fe80::10', 'fe80::21', 'tcp', 102, 6, { protocols: ['s7comm'], functions: ['s7comm:4'] }),
    edge('10.77.0.30', '10.77.0.22', 'tcp', 502, 6, { requests: 5 }),
  ])
    b.edges[e.id] = e;
  return b;
}

/** The flows a block would cut, as the guard said them from the parsed baseline. */
function parsedCuts(b: Baseline, ip: string): CutFlow[] {
  return Object.values(b.edges)
    .filter((e) => e.client === ip || e.server === ip)
    .map((e) => ({
      client: e.client,
      server: e.server,
      service: `${e.transport}/${e.port}`,
      protocols: e.protocols,
      functions: e.functions,
      requests: e.requests,
    }));
}

test('the guard keeps only what it needs of the parsed baseline and cuts exactly the flows it cut, in the same order', () => {
  const b = baseline();
  const want = structuredClone(b);
  const addrs = new Set<string>(['10.77.0.99', 'fe80::99', '::ffff:10.77.0.21', '10.77.0.021']);
  for (const e of Object.values(b.edges)) addrs.add(e.client).add(e.server);
  const guard = new BlockGuard(b, ['10.77.0.2']);
  let cut = 0;
  for (const ip of addrs) {
    assert.deepEqual(guard.cuts(ip), parsedCuts(want, ip), ip);
    cut += guard.cuts(ip).length;
  }
  assert.ok(cut > 10);
  // The parsed baseline changed after the start changes nothing the guard says.
  b.edges[Object.keys(b.edges)[0]!]!.functions.push('modbus:90');
  b.edges[Object.keys(b.edges)[0]!]!.client = '10.77.0.1';
  for (const ip of addrs) assert.deepEqual(guard.cuts(ip), parsedCuts(want, ip), ip);
  // What the guard hands out is its caller's to keep: changing it changes no later answer.
  guard.cuts('10.77.0.21')[0]!.functions.push('modbus:16');
  assert.deepEqual(guard.cuts('10.77.0.21'), parsedCuts(want, '10.77.0.21'));
});

class Kernel implements PlaybookKernel {
  calls: string[] = [];
  async block(a: string): Promise<void> {
    this.calls.push(`block ${a}`);
  }
  async unblock(): Promise<void> {}
  async permits() {
    return [];
  }
  grantedPermits() {
    return [];
  }
  async revokePermit(): Promise<void> {}
  async restorePermit(): Promise<void> {}
}

const POLICY = `weir: policy/1
timezone: UTC
zones:
  - { name: supervisory, members: [10.77.0.10, 10.77.0.30], approvals: [security] }
  - name: control
    members: [10.77.0.21, 10.77.0.22, 10.77.0.66]
    approvals: [security]
    playbooks:
      - name: contain
        mode: act
        on: [port_scan]
        when: { min_severity: medium, source_unknown: true }
        actions: [block_source, notify]
        block_ttl: 10m
        rate_limit: { max: 50, per: 1h }
`;

test('playbooks decide the same from a compiled baseline as from the parsed one, and keep none of its records', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-pb-compiled-'));
  try {
    const r = parsePolicy(POLICY, 'policy.yaml');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const run = async (b: Baseline, name: string, compiled?: CompiledBaseline) => {
      const db = openStore(path.join(dir, `${name}.db`));
      const kernel = new Kernel();
      const runner = new PlaybookRunner({
        db,
        active: { policy: r.policy, sha: 'b'.repeat(64) },
        baseline: b,
        ...(compiled !== undefined ? { compiled } : {}),
        kernel,
        protectedAddresses: ['10.77.0.2'],
        now: () => 1_800_000_000,
      });
      const out: string[] = [];
      let n = 0;
      // Known assets (no action: source_unknown), an unknown one, and one unknown to the assets but with a
      // learned flow (refused: its block would cut it).
      for (const src of ['10.77.0.10', '10.77.0.21', '10.77.0.99', '10.77.0.66', 'fe80::10']) {
        const d: Detection = {
          id: `d-${++n}`,
          type: 'port_scan',
          severity: 'high',
          ts: 1,
          lastTs: 1,
          count: 1,
          src,
          dst: '10.77.0.21',
          protocol: 'tcp',
          detail: '',
          zone: 'control',
          evidence: { frames: [1], fields: {} },
          explanation: '',
          suggestedResponse: '',
          techniques: [],
        };
        for (const a of await runner.onDetection(d))
          out.push(
            `${src} ${a.kind}:${a.status} ${a.reason ?? ''} ${JSON.stringify({ ...a.details, detection_to_kernel_ms: 0 })}`,
          );
      }
      db.close();
      return { out, calls: kernel.calls, runner };
    };
    const b = baseline();
    b.assets = ['10.77.0.10', '10.77.0.21', '10.77.0.22', '10.77.0.30', '10.77.0.40', 'fe80::10'];
    const parsed = await run(structuredClone(b), 'parsed');
    const shared = structuredClone(b);
    const compiled = await run(shared, 'compiled', new CompiledBaseline(shared));
    assert.deepEqual(compiled.out, parsed.out);
    assert.deepEqual(compiled.calls, parsed.calls);
    assert.deepEqual(parsed.calls, ['block 10.77.0.99']);
    assert.ok(
      parsed.out.some((l) => l.startsWith('10.77.0.66 block_source:refused')),
      parsed.out.join('\n'),
    );

    // Given the parsed baseline, the runner compiles it and keeps no parsed record: nothing reachable from it
    // (but its store and kernel) is the document, its edges or their lists.
    const doc = baseline();
    const { runner } = await run(doc, 'kept');
    // (The compiled baseline keeps the MACs by address as parsed, as detection reads them: not an edge record.)
    const kept = new Set<unknown>([doc, doc.edges, doc.assets]);
    for (const e of Object.values(doc.edges))
      kept.add(e).add(e.protocols).add(e.functions).add(e.reads);
    const seen = new Set<unknown>();
    const walk = (v: unknown, at: string): void => {
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      seen.add(v);
      assert.ok(!kept.has(v), `the runner keeps a parsed record at ${at}`);
      if (ArrayBuffer.isView(v)) return;
      if (v instanceof Map) for (const [k, x] of v) (walk(k, `${at}<key>`), walk(x, `${at}.get()`));
      else if (v instanceof Set) for (const x of v) walk(x, `${at}<item>`);
      else
        for (const k of Reflect.ownKeys(v))
          if (k !== 'db' && k !== 'kernel')
            walk((v as Record<PropertyKey, unknown>)[k], `${at}.${String(k)}`);
    };
    walk(runner, 'runner');
    assert.ok(seen.size > 10);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
