// The ATT&CK for ICS mapping: every detection type has one, every id is a live technique of MITRE's knowledge
// base (../shared/attack/ics-attack.json), and the generated table matches that knowledge base.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { ATTACK_MAP, techniqueIdsOf, techniquesFor } from '../../src/detect/attack-map.js';
import { ATTACK_NOTICE, ATTACK_TACTICS, ATTACK_TECHNIQUES } from '../../src/detect/attack-ics.js';
import type { Detection } from '../../src/detect/detection.js';

const KB = path.resolve(repoRoot, '../shared/attack/ics-attack.json');

interface StixObject {
  type: string;
  name?: string;
  revoked?: boolean;
  x_mitre_deprecated?: boolean;
  x_mitre_shortname?: string;
  external_references?: Array<{ source_name: string; external_id?: string }>;
  kill_chain_phases?: Array<{ kill_chain_name: string; phase_name: string }>;
}

/** MITRE's knowledge base: must be there under CI, skips elsewhere. */
function knowledgeBase(): Map<string, StixObject> | null {
  if (!existsSync(KB)) {
    if (process.env.CI === 'true') throw new Error(`ATT&CK for ICS knowledge base missing: ${KB}`);
    return null;
  }
  const bundle = JSON.parse(readFileSync(KB, 'utf8')) as { objects: StixObject[] };
  const out = new Map<string, StixObject>();
  for (const o of bundle.objects)
    if (o.type === 'attack-pattern') {
      const id = o.external_references?.find((r) => r.source_name === 'mitre-attack')?.external_id;
      if (id) out.set(id, o);
    }
  return out;
}

/**
 * Every detection type there is, read from the source: the DetectionType union and every type a detector
 * reports (`type: '…'` in a table or a `finding({ type: '…', … })`). Read from the source so a type added anywhere is caught even
 * before anyone maps it.
 */
function detectionTypes(): Map<string, string> {
  const where = new Map<string, string>();
  const src = readFileSync(path.join(repoRoot, 'src/detect/detection.ts'), 'utf8');
  const union = /export type DetectionType\s*=([^;]+);/.exec(src);
  assert.ok(union, 'src/detect/detection.ts: no DetectionType union found');
  for (const m of union[1]!.matchAll(/'([a-z0-9_]+)'/g))
    where.set(m[1]!, 'DetectionType in src/detect/detection.ts');
  const dir = path.join(repoRoot, 'src/detect/detectors');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    // `type: '…'` in a table or in the fields given to finding(…), which builds every finding.
    for (const m of text.matchAll(/\btype:\s*'([a-z0-9_]+)'/g))
      if (!where.has(m[1]!)) where.set(m[1]!, `src/detect/detectors/${f}`);
  }
  return where;
}

test('every detection type has an ATT&CK for ICS mapping', () => {
  const types = detectionTypes();
  assert.ok(types.size >= 20, `only ${types.size} detection types found in the source`);
  const missing = [...types]
    .filter(([t]) => ATTACK_MAP[t] === undefined || ATTACK_MAP[t]!.techniques.length === 0)
    .map(([t, from]) => `${t} (from ${from})`);
  assert.deepEqual(
    missing,
    [],
    `detection types without an ATT&CK for ICS mapping — add a row for each to ATTACK_MAP in src/detect/attack-map.ts: ${missing.join(', ')}`,
  );
});

test('every mapped technique id is a live technique of the ATT&CK for ICS knowledge base', (t) => {
  const kb = knowledgeBase();
  if (kb === null) return t.skip('knowledge base missing');
  const bad: string[] = [];
  for (const [type, m] of Object.entries(ATTACK_MAP))
    for (const id of techniqueIdsOf(m)) {
      const o = kb.get(id);
      if (o === undefined) bad.push(`${type}: ${id} is not in the knowledge base`);
      else if (o.revoked || o.x_mitre_deprecated)
        bad.push(`${type}: ${id} (${o.name}) is revoked or deprecated`);
      else if (ATTACK_TECHNIQUES[id] === undefined)
        bad.push(`${type}: ${id} is missing from the generated table`);
    }
  assert.deepEqual(bad, []);
});

test('the generated table is the knowledge base: names and tactics of every live technique, MITRE notice kept', (t) => {
  const kb = knowledgeBase();
  if (kb === null) return t.skip('knowledge base missing');
  const live = [...kb].filter(([, o]) => !o.revoked && !o.x_mitre_deprecated);
  assert.equal(
    Object.keys(ATTACK_TECHNIQUES).length,
    live.length,
    'regenerate: node scripts/gen-attack.mjs',
  );
  for (const [id, o] of live) {
    const row = ATTACK_TECHNIQUES[id];
    assert.ok(row, `${id} missing: regenerate with node scripts/gen-attack.mjs`);
    assert.equal(row.name, o.name);
    assert.deepEqual(
      [...row.tactics].sort(),
      o.kill_chain_phases!.map((k) => k.phase_name).sort(),
      id,
    );
  }
  assert.equal(ATTACK_TACTICS.length, 12);
  assert.equal(ATTACK_TACTICS[0]!.shortname, 'initial-access');
  assert.match(ATTACK_NOTICE, /The MITRE Corporation/);
  const generated = readFileSync(path.join(repoRoot, 'src/detect/attack-ics.ts'), 'utf8');
  assert.match(generated, /hereby grants you a non-exclusive, royalty-free license/);
});

const det = (type: Detection['type'], detail = '', fields: Record<string, unknown> = {}) => ({
  type,
  protocol: detail.split(':')[0] ?? '',
  detail,
  evidence: { frames: [1], fields },
});

test('the mapping decides by what the detection saw', () => {
  assert.deepEqual(techniquesFor(det('cpu_stop', 's7comm:41')), ['T0881', 'T0858']);
  assert.ok(techniquesFor(det('program_download', 's7comm:27')).includes('T0843'));
  assert.deepEqual(techniquesFor(det('port_scan')), ['T0846']);
  assert.deepEqual(
    techniquesFor(det('write_new_range', 'modbus:16', { space: 'holding_register' })),
    ['T0855', 'T0836'],
  );
  // A coil write commands an output: an unauthorised command, no parameter changed.
  assert.deepEqual(techniquesFor(det('write_new_range', 'modbus:5', { space: 'coil' })), ['T0855']);
  assert.deepEqual(techniquesFor(det('file_transfer', 'dnp3:27')), ['T0809']);
  assert.deepEqual(techniquesFor(det('config_change', 'bacnet:17')), ['T0804', 'T0814']);
  assert.deepEqual(techniquesFor(det('diagnostic_command', 'modbus:8', { subfunc: 4 })), [
    'T0814',
    'T0803',
  ]);
  // An unknown type maps to nothing rather than throwing (the test above names it).
  assert.deepEqual(techniquesFor(det('no_such_type' as Detection['type'])), []);
});

test('technique ids that detectors state for an exact operation are live techniques too', () => {
  const dir = path.join(repoRoot, 'src/detect/detectors');
  const stated = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
    for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/'(T0\d{3})'/g))
      stated.add(m[1]!);
  }
  assert.ok(stated.size > 0);
  const unknown = [...stated].filter((t) => !(t in ATTACK_TECHNIQUES));
  assert.deepEqual(
    unknown,
    [],
    `ids in src/detect/detectors not in the generated table: ${unknown}`,
  );
});

test("a detector's stated techniques win over the type's row; unknown ids are dropped", () => {
  const base = { type: 'controller_lock', protocol: 'cip', detail: 'cip:76' } as const;
  assert.deepEqual(
    techniquesFor({ ...base, evidence: { frames: [], fields: { attack: ['T0855'] } } }),
    ['T0855'],
  );
  assert.deepEqual(
    techniquesFor({ ...base, evidence: { frames: [], fields: { attack: ['T9999'] } } }),
    ['T0855', 'T0813'],
  );
});
