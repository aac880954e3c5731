import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicy } from '../../src/policy/load.js';
import { formatPolicyError, type PolicyError } from '../../src/policy/errors.js';

const FILE = 'plant/policy.yaml';

/** A valid policy; the broken variants below each change one or two of its lines (numbers as shown). */
const VALID = [
  /*  1 */ 'weir: policy/1',
  /*  2 */ 'site: Lab 77',
  /*  3 */ 'timezone: Europe/Berlin',
  /*  4 */ 'assets:',
  /*  5 */ '  - name: HMI-1',
  /*  6 */ '    ip: 10.77.0.10',
  /*  7 */ '    role: hmi',
  /*  8 */ '  - name: PLC-1',
  /*  9 */ '    ip: 10.77.0.21',
  /* 10 */ '    role: plc',
  /* 11 */ 'zones:',
  /* 12 */ '  - name: supervisory',
  /* 13 */ '    description: Operator stations',
  /* 14 */ '    members: [10.77.0.0/28]',
  /* 15 */ '    security_level: 2',
  /* 16 */ '    mode: monitor',
  /* 17 */ '  - name: control',
  /* 18 */ '    members:',
  /* 19 */ '      - 10.77.0.16/28',
  /* 20 */ '    security_level: 3',
  /* 21 */ '    mode: observe',
  /* 22 */ '    approvals: [security, engineering]',
  /* 23 */ '    simulation_window: 7d',
  /* 24 */ 'conduits:',
  /* 25 */ '  - name: sup-ctl',
  /* 26 */ '    from: supervisory',
  /* 27 */ '    to: control',
  /* 28 */ 'groups:',
  /* 29 */ '  - name: hmi-polls-plc',
  /* 30 */ '    conduit: sup-ctl',
  /* 31 */ '    clients: [HMI-1]',
  /* 32 */ '    servers: [PLC-1]',
  /* 33 */ '    protocol: modbus',
  /* 34 */ '    ports: [502]',
  /* 35 */ '    functions: [read_holding_registers, 4]',
  /* 36 */ '    addresses:',
  /* 37 */ '      holding_register: [0-99, 200]',
  /* 38 */ '    access: read-only',
  /* 39 */ '  - name: maintenance-writes',
  /* 40 */ '    conduit: sup-ctl',
  /* 41 */ '    clients: [HMI-1]',
  /* 42 */ '    servers: [PLC-1]',
  /* 43 */ '    protocol: modbus',
  /* 44 */ '    functions: [write_multiple_registers, 6]',
  /* 45 */ '    access: read-write',
  /* 46 */ '    windows: [maintenance]',
  /* 47 */ 'windows:',
  /* 48 */ '  - name: maintenance',
  /* 49 */ '    days: [sat]',
  /* 50 */ '    from: "02:00"',
  /* 51 */ '    to: "04:00"',
  /* 52 */ '    timezone: Europe/Berlin',
  '',
].join('\n');

/** VALID with `from` replaced by `to` inside each given line (1-based, numbered as in VALID). */
function edit(...edits: Array<[line: number, from: string, to: string]>): string {
  const lines = VALID.split('\n');
  for (const [n, from, to] of edits) {
    const l = lines[n - 1];
    if (l === undefined || !l.includes(from)) throw new Error(`edit: line ${n} has no '${from}'`);
    lines[n - 1] = l.replace(from, to);
  }
  return lines.join('\n');
}

interface Case {
  name: string;
  text: string;
  expected: { line: number; field: string; messageIncludes: string };
  /** Set when the loader's answer is known to be wrong or imprecise (see the report). */
  todo?: string;
}

const CASES: Case[] = [
  // YAML syntax
  {
    name: 'bad indentation',
    text: edit([13, '    description', '   description']),
    expected: { line: 13, field: '', messageIncludes: 'Sequence item without - indicator' },
  },
  {
    name: 'unclosed quote',
    text: edit([2, 'Lab 77', '"Lab 77']),
    expected: { line: 2, field: '', messageIncludes: 'Missing closing "quote' },
  },
  {
    name: 'unclosed flow sequence',
    text: edit([14, '[10.77.0.0/28]', '[10.77.0.0/28']),
    expected: { line: 14, field: '', messageIncludes: 'end with a ]' },
  },
  {
    name: 'tab as indentation',
    text: edit([16, '    mode', '\tmode']),
    expected: { line: 16, field: '', messageIncludes: 'Tabs are not allowed as indentation' },
  },
  {
    name: 'duplicate key',
    text: edit([16, 'mode: monitor', 'mode: monitor\n    mode: enforce']),
    expected: { line: 17, field: 'zones[0].mode', messageIncludes: 'unique' },
  },
  // document
  { name: 'empty file', text: '', expected: { line: 1, field: '', messageIncludes: 'policy/1' } },
  {
    name: 'a scalar as the document',
    text: 'weir\n',
    expected: { line: 1, field: '', messageIncludes: 'is a mapping' },
  },
  {
    name: 'a list as the document',
    text: '- weir: policy/1\n- zones: []\n',
    expected: { line: 1, field: '', messageIncludes: 'is a mapping' },
  },
  {
    name: 'missing weir',
    text: edit([1, 'weir: policy/1', '# weir: policy/1']),
    expected: { line: 2, field: '', messageIncludes: "missing required field 'weir'" },
  },
  {
    name: 'wrong weir version',
    text: edit([1, 'policy/1', 'policy/2']),
    expected: { line: 1, field: 'weir', messageIncludes: '"policy/1"' },
  },
  {
    name: 'unknown top-level field',
    text: edit([2, 'site:', 'sites:']),
    expected: { line: 2, field: 'sites', messageIncludes: "did you mean 'site'" },
  },
  // zones
  {
    name: 'zone field typo',
    text: edit([15, 'security_level', 'secruity_level']),
    expected: {
      line: 15,
      field: 'zones[0].secruity_level',
      messageIncludes: "did you mean 'security_level'",
    },
  },
  {
    name: 'bad mode',
    text: edit([21, 'observe', 'enforcing']),
    expected: {
      line: 21,
      field: 'zones[1].mode',
      messageIncludes: 'must be one of observe, monitor, simulate, enforce',
    },
  },
  {
    name: 'security_level 0',
    text: edit([15, '2', '0']),
    expected: { line: 15, field: 'zones[0].security_level', messageIncludes: '>= 1' },
  },
  {
    name: 'security_level 5',
    text: edit([20, '3', '5']),
    expected: { line: 20, field: 'zones[1].security_level', messageIncludes: '<= 4' },
  },
  {
    name: 'bad CIDR',
    text: edit([14, '10.77.0.0/28', '10.77.0/28']),
    expected: {
      line: 14,
      field: 'zones[0].members[0]',
      messageIncludes: "'10.77.0/28' is not an address",
    },
  },
  {
    name: 'prefix /33',
    text: edit([19, '/28', '/33']),
    expected: {
      line: 19,
      field: 'zones[1].members[0]',
      messageIncludes: "'10.77.0.16/33' is not an address",
    },
  },
  {
    name: 'overlapping zones',
    text: edit([19, '10.77.0.16/28', '10.77.0.8/29']),
    expected: {
      line: 19,
      field: 'zones[1].members',
      messageIncludes: "overlaps zone 'supervisory'",
    },
  },
  {
    name: 'duplicate zone names',
    text: edit([17, 'control', 'supervisory'], [19, '10.77.0.16/28', '10.77.0.32/28']),
    expected: {
      line: 17,
      field: 'zones[1].name',
      messageIncludes: "'supervisory' is defined twice in zones",
    },
  },
  {
    name: 'members as a string',
    text: edit([14, '[10.77.0.0/28]', '10.77.0.0/28']),
    expected: { line: 14, field: 'zones[0].members', messageIncludes: 'must be array' },
  },
  {
    name: 'bad simulation_window',
    text: edit([23, '7d', '7 days']),
    expected: {
      line: 23,
      field: 'zones[1].simulation_window',
      messageIncludes: 'duration like 30m, 12h, 7d or 2w',
    },
  },
  {
    name: 'approval by an unknown role',
    text: edit([22, 'engineering', 'plant-manager']),
    expected: {
      line: 22,
      field: 'zones[1].approvals[1]',
      messageIncludes: 'must be one of security, engineering, operations',
    },
  },
  // assets
  {
    name: 'asset with a bad IP',
    text: edit([9, '10.77.0.21', '10.77.0.300']),
    expected: {
      line: 9,
      field: 'assets[1].ip',
      messageIncludes: "'10.77.0.300' is not an IP address",
    },
  },
  // conduits
  {
    name: 'conduit to an unknown zone',
    text: edit([27, 'control', 'contrl']),
    expected: {
      line: 27,
      field: 'conduits[0].to',
      messageIncludes: "no zone named 'contrl' (defined: supervisory, control)",
    },
  },
  {
    name: 'conduit from a zone to itself',
    text: edit([27, 'control', 'supervisory']),
    expected: { line: 27, field: 'conduits[0].to', messageIncludes: 'two different zones' },
  },
  // groups
  {
    name: 'group on an unknown conduit',
    text: edit([30, 'sup-ctl', 'sup-ctrl']),
    expected: {
      line: 30,
      field: 'groups[0].conduit',
      messageIncludes: "no conduit named 'sup-ctrl' (defined: sup-ctl)",
    },
  },
  {
    name: 'unknown host in clients',
    text: edit([31, 'HMI-1', 'HMI-9']),
    expected: {
      line: 31,
      field: 'groups[0].clients[0]',
      messageIncludes: "'HMI-9' is not an address",
    },
  },
  {
    name: 'empty clients list',
    text: edit([31, '[HMI-1]', '[]']),
    expected: { line: 31, field: 'groups[0].clients', messageIncludes: 'fewer than 1 items' },
  },
  {
    name: 'unknown protocol',
    text: edit([33, 'modbus', 'modbuss']),
    expected: {
      line: 33,
      field: 'groups[0].protocol',
      messageIncludes: "unknown protocol 'modbuss'",
    },
  },
  {
    name: 'unknown modbus function name',
    text: edit([35, 'read_holding_registers', 'read_holdings']),
    expected: {
      line: 35,
      field: 'groups[0].functions[0]',
      messageIncludes: "'read_holdings' is not a modbus function",
    },
  },
  {
    name: 'functions without protocol',
    text: edit([33, 'protocol: modbus', 'transport: tcp']),
    expected: {
      line: 35,
      field: 'groups[0].functions',
      messageIncludes: "functions need the group's `protocol:`",
    },
  },
  {
    name: 'port 0',
    text: edit([34, '502', '0']),
    expected: { line: 34, field: 'groups[0].ports[0]', messageIncludes: '>= 1' },
  },
  {
    name: 'port 70000',
    text: edit([34, '502', '70000']),
    expected: { line: 34, field: 'groups[0].ports[0]', messageIncludes: '<= 65535' },
  },
  {
    name: 'group without ports and without protocol',
    text: edit(
      [43, 'protocol: modbus', 'transport: tcp'],
      [44, 'functions: [write_multiple_registers, 6]', 'description: writes'],
    ),
    expected: { line: 39, field: 'groups[1]', messageIncludes: 'needs `ports:`' },
  },
  {
    name: "address range '10-x'",
    text: edit([37, '0-99', '10-x']),
    expected: {
      line: 37,
      field: 'groups[0].addresses.holding_register[0]',
      messageIncludes: 'must be an address or a range like 100-199',
    },
  },
  {
    name: "backwards address range '20-10'",
    text: edit([37, '0-99', '20-10']),
    expected: {
      line: 37,
      field: 'groups[0].addresses.holding_register[0]',
      messageIncludes: 'range 20-10 runs backwards',
    },
  },
  {
    name: 'unknown window reference',
    text: edit([46, 'maintenance', 'maintenence']),
    expected: {
      line: 46,
      field: 'groups[1].windows[0]',
      messageIncludes: "no window named 'maintenence' (defined: maintenance)",
    },
  },
  {
    name: 'duplicate group names',
    text: edit([39, 'maintenance-writes', 'hmi-polls-plc']),
    expected: {
      line: 39,
      field: 'groups[1].name',
      messageIncludes: "'hmi-polls-plc' is defined twice in groups",
    },
  },
  // windows and time zones
  {
    name: "window from '25:00'",
    text: edit([50, '02:00', '25:00']),
    expected: {
      line: 50,
      field: 'windows[0].from',
      messageIncludes: "'25:00' is not a time of day",
    },
  },
  {
    name: "window to '12:61'",
    text: edit([51, '04:00', '12:61']),
    expected: { line: 51, field: 'windows[0].to', messageIncludes: "'12:61' is not a time of day" },
  },
  {
    name: "window from '24:00'",
    text: edit([50, '02:00', '24:00']),
    expected: {
      line: 50,
      field: 'windows[0].from',
      messageIncludes: "'24:00' is not a time of day",
    },
  },
  {
    name: 'window from == to',
    text: edit([51, '04:00', '02:00']),
    expected: { line: 51, field: 'windows[0].to', messageIncludes: 'the window is empty' },
  },
  {
    name: 'bad weekday',
    text: edit([49, 'sat', 'saturday']),
    expected: {
      line: 49,
      field: 'windows[0].days[0]',
      messageIncludes: 'must be one of mon, tue, wed, thu, fri, sat, sun',
    },
  },
  {
    name: 'unknown time zone at the top',
    text: edit([3, 'Europe/Berlin', 'Europe/Berln']),
    expected: { line: 3, field: 'timezone', messageIncludes: "unknown time zone 'Europe/Berln'" },
  },
  {
    name: 'unknown time zone in a window',
    text: edit([52, 'Europe/Berlin', 'Mars/Olympus']),
    expected: {
      line: 52,
      field: 'windows[0].timezone',
      messageIncludes: "unknown time zone 'Mars/Olympus'",
    },
  },
  // size and depth
  {
    name: 'file larger than 32 MiB',
    text: VALID + '#'.repeat(79).concat('\n').repeat(430_000),
    expected: { line: 1, field: '', messageIncludes: 'larger than 33554432 bytes' },
  },
  {
    name: 'file larger than 32 MiB in UTF-8 but not in UTF-16 units',
    text: VALID + '# ' + 'ä'.repeat(17_000_000) + '\n',
    expected: { line: 1, field: '', messageIncludes: 'larger than 33554432 bytes' },
  },
  {
    name: 'flow sequences nested 1000 deep (2 KB)',
    text: edit([2, 'Lab 77', '['.repeat(1000) + ']'.repeat(1000)]),
    expected: { line: 2, field: '', messageIncludes: 'nest' },
  },
];

function check(text: string): { errors: PolicyError[] } {
  let result: ReturnType<typeof parsePolicy> | undefined;
  assert.doesNotThrow(() => {
    result = parsePolicy(text, FILE);
  });
  assert.ok(result !== undefined && !result.ok, 'the broken policy loaded');
  return result;
}

test('the base policy loads', () => {
  const r = parsePolicy(VALID, FILE);
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatPolicyError).join('\n'));
  const p = r.policy;
  assert.deepEqual(
    p.zones.map((z) => [z.name, z.members, z.mode]),
    [
      ['supervisory', ['10.77.0.0/28'], 'monitor'],
      ['control', ['10.77.0.16/28'], 'observe'],
    ],
  );
  assert.equal(p.zones[1]!.simulationWindow, 7 * 86400);
  assert.deepEqual(
    p.conduits.map((c) => [c.from, c.to]),
    [['supervisory', 'control']],
  );
  const [poll, writes] = p.groups;
  assert.deepEqual(
    [poll!.transport, poll!.ports, poll!.functions, poll!.addresses],
    [
      'tcp',
      [502],
      [3, 4],
      {
        holding_register: [
          [0, 99],
          [200, 200],
        ],
      },
    ],
  );
  assert.deepEqual(
    [writes!.ports, writes!.functions, writes!.access, writes!.windows],
    [[502], [16, 6], 'read-write', ['maintenance']],
  );
  assert.deepEqual(p.windows, [
    { name: 'maintenance', days: ['sat'], from: 120, to: 240, timezone: 'Europe/Berlin' },
  ]);
});

for (const c of CASES) {
  test(`broken: ${c.name}`, c.todo === undefined ? {} : { todo: c.todo }, () => {
    const { errors } = check(c.text);
    const all = errors.map(formatPolicyError).join('\n');
    for (const e of errors) {
      assert.equal(e.file, FILE, all);
      assert.ok(
        Number.isInteger(e.line) && e.line >= 1 && Number.isInteger(e.column) && e.column >= 1,
        all,
      );
    }
    const { line, field, messageIncludes } = c.expected;
    const hit = errors.find(
      (e) => e.line === line && e.field === field && e.message.includes(messageIncludes),
    );
    assert.ok(hit, `expected ${line} ${field || '(document)'}: …${messageIncludes}…, got:\n${all}`);
    assert.ok(
      formatPolicyError(hit).startsWith(
        `${FILE}:${line}:${hit.column}: ${field ? `${field}: ` : ''}`,
      ),
    );
  });
}

test('a YAML alias bomb neither hangs nor throws', () => {
  const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i < 10; i++) {
    const prev = String.fromCharCode(96 + i),
      cur = String.fromCharCode(97 + i);
    levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(', ')}]`);
  }
  const text = [
    'weir: policy/1',
    'zones:',
    '  - name: z',
    '    members: [10.0.0.0/8]',
    'bomb:',
    ...levels.map((l) => `  ${l}`),
    '',
  ].join('\n');
  const started = performance.now();
  let result: ReturnType<typeof parsePolicy> | undefined;
  assert.doesNotThrow(() => {
    result = parsePolicy(text, FILE);
  });
  assert.ok(
    performance.now() - started < 2000,
    `took ${Math.round(performance.now() - started)} ms`,
  );
  assert.ok(result !== undefined);
  if (!result.ok) for (const e of result.errors) assert.equal(e.file, FILE);
});
