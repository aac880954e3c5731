// The review's L3: a permit template that names a directory group by its CN alone matches that CN in any OU
// (a group anyone with rights over some OU can create). Policy load says so and how to name it by DN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parsePolicy } from '../../src/policy/load.js';
import { templateWarnings } from '../../src/policy/permit-templates.js';
import { weir } from '../helpers/weir-cli.js';

const POLICY = `weir: policy/1
assets:
  - { name: PLC-1, ip: 10.0.0.21 }
zones:
  - { name: eng, members: [10.0.0.0/28] }
  - { name: ctl, members: [PLC-1] }
conduits: [{ name: c, from: eng, to: ctl }]
permit_templates:
  - name: plc-maint
    directory_groups: [plc-maintenance, "CN=OT Engineers,OU=Groups,DC=plant,DC=local"]
    zone: ctl
    servers: [PLC-1]
    protocol: modbus
    max_ttl: 1h
`;

test('a permit template naming a directory group by CN alone is warned about at policy load', async () => {
  const r = parsePolicy(POLICY, 'p.yaml');
  assert.ok(r.ok);
  const w = templateWarnings(r.policy);
  assert.equal(w.length, 1, JSON.stringify(w));
  assert.match(
    w[0]!,
    /permit_templates\[0\] \(plc-maint\)\.directory_groups\[0\]: 'plc-maintenance' names a group by its CN alone, so a group of that name in any OU vouches: name it by its DN \(e\.g\. "cn=plc-maintenance,ou=groups,dc=plant,dc=local"\)/,
  );

  const dir = mkdtempSync(path.join(tmpdir(), 'weir-cn-warning-'));
  try {
    const file = path.join(dir, 'p.yaml');
    writeFileSync(file, POLICY);
    const out = await weir(['policy', 'validate', file]);
    assert.equal(out.code, 0, 'a warning, not an error');
    assert.match(out.stdout, /p\.yaml: ok/);
    assert.match(
      out.stderr,
      /p\.yaml: warning: permit_templates\[0\] \(plc-maint\)\.directory_groups\[0\]: 'plc-maintenance'/,
    );
    assert.doesNotMatch(out.stderr, /OT Engineers/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
