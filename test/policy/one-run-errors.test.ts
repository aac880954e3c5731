import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { formatPolicyError } from '../../src/policy/errors.js';
import { weir } from '../helpers/weir-cli.js';

const FILE = 'plant/policy.yaml';

// Shape errors (an unknown field, a wrong type, a misspelt mode) and meaning errors (unknown assets, zones,
// functions, windows) in one file; line numbers as shown.
const BROKEN = [
  /*  1 */ 'weir: policy/1',
  /*  2 */ 'assets:',
  /*  3 */ '  - { name: HMI-1, ip: 10.77.0.10 }',
  /*  4 */ '  - { name: PLC-1, ip: 10.77.0.21 }',
  /*  5 */ 'zones:',
  /*  6 */ '  - { name: supervisory, members: [10.77.0.0/28], mdoe: monitor }',
  /*  7 */ '  - { name: control, members: [10.77.0.16/28], security_level: high }',
  /*  8 */ 'conduits:',
  /*  9 */ '  - { name: sup-ctl, from: supervisory, to: control }',
  /* 10 */ '  - { name: sup-dmz, from: supervisory, to: dmz }',
  /* 11 */ 'groups:',
  /* 12 */ '  - { name: broken, clients: [HMI-1], servers: [PLC-1], protocol: modbus, access: sometimes }',
  /* 13 */ '  - name: polls',
  /* 14 */ '    conduit: sup-ctl',
  /* 15 */ '    clients: [HMI-9]',
  /* 16 */ '    servers: [PLC-1]',
  /* 17 */ '    protocol: modbus',
  /* 18 */ '    functions: [read_holding_registers, read_everything]',
  /* 19 */ '    windows: [night-shift]',
  '',
].join('\n');

test('policy validation reports shape and meaning errors together, each at its own line and field', () => {
  const r = parsePolicy(BROKEN, FILE);
  assert.ok(!r.ok);
  const got = r.errors.map(formatPolicyError);
  const want: Array<[number, string, RegExp]> = [
    [6, 'zones[0].mdoe', /unknown field \(did you mean 'mode'\?\)/],
    [7, 'zones[1].security_level', /./],
    [10, 'conduits[1].to', /no zone named 'dmz'/],
    [12, 'groups[0].access', /must be one of/],
    [
      15,
      'groups[1].clients[0]',
      /'HMI-9' is not an address, a CIDR block, a named asset or a zone/,
    ],
    [18, 'groups[1].functions[1]', /'read_everything' is not a modbus function/],
    [19, 'groups[1].windows[0]', /no window named 'night-shift'/],
  ];
  for (const [line, field, message] of want) {
    assert.ok(
      r.errors.some(
        (e) => e.line === line && e.field === field && message.test(e.message) && e.column >= 1,
      ),
      `${line} ${field} ${message} in:\n${got.join('\n')}`,
    );
  }
  // A zone cut for its own shape error is still a zone: the conduit to it is not a second error.
  assert.ok(!r.errors.some((e) => e.field === 'conduits[0].to'), got.join('\n'));
  assert.deepEqual(
    [...r.errors].sort((a, b) => a.line - b.line || a.column - b.column),
    r.errors,
    'in file order',
  );
});

test('weir policy validate prints every error of the file in one run, as file:line:col', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-one-run-'));
  try {
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, BROKEN);
    const r = await weir(['policy', 'validate', file]);
    assert.equal(r.code, 1);
    const out = r.stdout + r.stderr;
    for (const at of [':6:', ':7:', ':10:', ':12:', ':15:', ':18:', ':19:'])
      assert.ok(out.includes(`${file}${at}`), `${at} in ${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
