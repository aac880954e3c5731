import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/load.js';

const TEXT = `weir: policy/1
site: "2026-01-01"
timezone: Europe/Berlin
zones:
  - { name: sup, members: [10.0.0.0/28], mode: monitor }
  - { name: ctl, members: [10.0.0.16/28], mode: enforce, simulation_window: 2h }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: g, conduit: c, clients: [10.0.0.10], servers: [10.0.0.21], protocol: modbus, functions: [read_coils, 3], addresses: { coil: [0-15] } }
windows:
  - { name: w, days: [sat, sun], from: "02:00", to: "24:00" }
`;

test('the fast reader and the positional reader give the same policy', () => {
  const fast = parsePolicy(TEXT, 'a.yaml');
  // An anchor sends the file through the yaml Document reader (the one that knows positions).
  const slow = parsePolicy(
    TEXT.replace('members: [10.0.0.0/28]', 'members: &sup [10.0.0.0/28]'),
    'b.yaml',
  );
  assert.ok(fast.ok && slow.ok);
  assert.deepEqual(fast.policy, slow.policy);
  assert.equal(fast.policy.site, '2026-01-01', 'dates stay strings');
  assert.deepEqual(fast.policy.groups[0]!.functions, [1, 3]);
  assert.equal(fast.policy.zones[1]!.simulationWindow, 7200);
  assert.deepEqual([fast.policy.windows[0]!.from, fast.policy.windows[0]!.to], [120, 1440]);
});

test('errors found after a fast read still name line and field', () => {
  const r = parsePolicy(TEXT.replace('mode: enforce', 'mode: enforcing'), 'c.yaml');
  assert.ok(!r.ok);
  assert.deepEqual(
    r.errors.map((e) => [e.line, e.field]),
    [[6, 'zones[1].mode']],
  );
});

test('access and functions must agree: a read-only group (also by default) listing a write is an error (issue 10, item 7)', () => {
  const group = (extra: string) =>
    TEXT.replace('functions: [read_coils, 3], addresses: { coil: [0-15] } }', `${extra} }`);
  const byDefault = parsePolicy(
    group('functions: [read_holding_registers, write_single_register]'),
    'd.yaml',
  );
  assert.equal(byDefault.ok, false);
  assert.ok(
    !byDefault.ok &&
      byDefault.errors.some(
        (e) =>
          e.field === 'groups[0].functions[1]' &&
          /write_single_register is a write function, but the group is read-only \(the default\)/.test(
            e.message,
          ),
      ),
    JSON.stringify(!byDefault.ok && byDefault.errors),
  );
  const explicit = parsePolicy(group('functions: [3, 16], access: read-only'), 'e.yaml');
  assert.ok(
    !explicit.ok &&
      explicit.errors.some((e) =>
        /write_multiple_registers is a write function, but the group is read-only:/.test(e.message),
      ),
  );
  assert.ok(
    parsePolicy(group('functions: [3, 6], access: read-write'), 'f.yaml').ok,
    'read-write may list writes',
  );
  assert.ok(
    parsePolicy(group('functions: [3, 43]'), 'g.yaml').ok,
    'FC 43 depends on its MEI type: not a contradiction by itself',
  );
});
