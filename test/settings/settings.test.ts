import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseSettings, settingsPath } from '../../src/settings/load.js';
import { DEFAULT_SETTINGS, withDefaults } from '../../src/settings/model.js';
import { exampleSettings } from '../../src/settings/example.js';
import { formatFileError } from '../../src/settings/yaml-errors.js';
import { DetectionEngine } from '../../src/detect/engine.js';
import { TcpFlag } from '../../src/dissect/packet.js';
import { repoRoot } from '../helpers/paths.js';
import { weir } from '../helpers/weir-cli.js';
import { tcp, learn, normalTraffic, EVIL, PLC } from '../detect/synthetic.js';

const errorsOf = (text: string): string[] => {
  const r = parseSettings(text, 'weir.yaml');
  assert.equal(r.ok, false, 'expected the file to be refused');
  return r.ok ? [] : r.errors.map(formatFileError);
};

test('weir.example.yaml is the generated example, validates, and holds exactly the defaults', () => {
  const text = readFileSync(path.join(repoRoot, 'weir.example.yaml'), 'utf8');
  assert.equal(text, exampleSettings(), 'regenerate it: weir settings example > weir.example.yaml');
  const r = parseSettings(text, 'weir.example.yaml');
  assert.ok(r.ok, r.ok ? '' : r.errors.map(formatFileError).join('\n'));
  assert.deepEqual(r.settings, DEFAULT_SETTINGS);
  assert.deepEqual(r.file, DEFAULT_SETTINGS, 'the example lists every setting');
});

test('a file sets only what it names; the rest keeps its default', () => {
  const r = parseSettings(
    'weir: settings/1\ndetect:\n  scan:\n    ports_per_host: 4\ngateway: { rate: 500 }\n',
    'w.yaml',
  );
  assert.ok(r.ok);
  assert.equal(r.settings.detect.scan.ports_per_host, 4);
  assert.equal(r.settings.detect.scan.hosts_per_port, DEFAULT_SETTINGS.detect.scan.hosts_per_port);
  assert.equal(r.settings.gateway.rate, 500);
  assert.equal(r.settings.gateway.refusal_cost, 50);
  assert.deepEqual(r.settings.server, DEFAULT_SETTINGS.server);
  assert.deepEqual(withDefaults({}), DEFAULT_SETTINGS);
});

test('invalid files: every problem with file:line:col, the field and what is wrong', () => {
  assert.deepEqual(
    errorsOf(
      [
        'weir: settings/1',
        'detect:',
        '  scan:',
        '    window_s: -3',
        '    portz_per_host: 4',
        '  timing: 5',
        'gatway: {}',
        'inventory:',
        '  max_assets: 10.5',
        '  max_edges: lots',
      ].join('\n'),
    ),
    [
      'weir.yaml:4:15: detect.scan.window_s: must be >= 1',
      "weir.yaml:5:5: detect.scan.portz_per_host: unknown setting (did you mean 'ports_per_host'?)",
      'weir.yaml:6:11: detect.timing: must be a section (a mapping of settings)',
      "weir.yaml:7:1: gatway: unknown setting (did you mean 'gateway'?)",
      'weir.yaml:9:15: inventory.max_assets: must be a whole number',
      'weir.yaml:10:14: inventory.max_edges: must be a whole number',
    ],
  );
  assert.deepEqual(errorsOf('detect: {}\n'), [
    "weir.yaml:1:1: missing required field 'weir' (`weir: settings/1`)",
  ]);
  assert.deepEqual(errorsOf('weir: policy/1\n'), ['weir.yaml:1:7: weir: must be "settings/1"']);
  assert.match(errorsOf('weir: settings/1\ndetect: [1,\n')[0]!, /^weir\.yaml:3:1: .*end with a \]/);
  assert.match(
    errorsOf('weir: settings/1\nweir: settings/1\n')[0]!,
    /^weir\.yaml:2:1: .*[Uu]nique/,
  );
  assert.deepEqual(errorsOf('weir: settings/1\ngateway:\n  lease_ms: 300\n  heartbeat_ms: 400\n'), [
    'weir.yaml:4:17: gateway.heartbeat_ms: must be shorter than gateway.lease_ms (300), or the lease lapses between renewals',
  ]);
  // capture.user is handed to the capture program as -Z: never root (tcpdump would keep it), never an option.
  assert.deepEqual(errorsOf('weir: settings/1\ncapture:\n  user: root\n'), [
    "weir.yaml:3:9: capture.user: must not be root (root has uid 0): the capture program parses the network's traffic and gives up root for this user",
  ]);
  assert.deepEqual(errorsOf('weir: settings/1\ncapture:\n  user: "-v"\n'), [
    'weir.yaml:3:9: capture.user: "-v" is not a user name (letters, digits, _ . -; not starting with - or .)',
  ]);
  assert.equal(
    parseSettings('weir: settings/1\ncapture:\n  user: weir-capture\n', 'weir.yaml').ok,
    true,
  );
  assert.deepEqual(errorsOf(''), [
    'weir.yaml:1:1: a settings file is a mapping that starts with `weir: settings/1`',
  ]);
});

test('which file: --config, else $WEIR_CONFIG, else /etc/weir/weir.yaml when it exists, else none', () => {
  const yes = () => true,
    no = () => false;
  assert.equal(settingsPath('a.yaml', { WEIR_CONFIG: 'b.yaml' }, yes), 'a.yaml');
  assert.equal(settingsPath(undefined, { WEIR_CONFIG: 'b.yaml' }, yes), 'b.yaml');
  assert.equal(settingsPath(undefined, {}, yes), '/etc/weir/weir.yaml');
  assert.equal(settingsPath(undefined, {}, no), null);
});

/** A probe of `ports` ports on the PLC from an unknown host, after normal traffic; the port scans found. */
function portScans(settings = DEFAULT_SETTINGS.detect): number {
  const eng = new DetectionEngine(learn(), { settings });
  const t = normalTraffic(eng, 2000, 5) + 10;
  for (let port = 1; port <= 6; port++)
    eng.onPacket(tcp(t + port * 0.01, EVIL, 60000, PLC, port, TcpFlag.SYN, 0));
  return eng.finish().filter((d) => d.type === 'port_scan').length;
}

test('a changed threshold changes what the detector finds', () => {
  assert.equal(portScans(), 0, 'six ports are below the default of ten');
  const r = parseSettings('weir: settings/1\ndetect:\n  scan:\n    ports_per_host: 5\n', 'w.yaml');
  assert.ok(r.ok);
  assert.equal(portScans(r.settings.detect), 1, 'and above five');
});

test('the CLI: settings check, settings show, from --config or $WEIR_CONFIG', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-settings-'));
  try {
    const good = path.join(dir, 'weir.yaml');
    writeFileSync(good, 'weir: settings/1\ndetect:\n  fold_window_s: 120\n');
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'weir: settings/1\ninventory:\n  max_asets: 5\n');
    const env = { WEIR_CONFIG: '' };

    const ok = await weir(['settings', 'check', good], { env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, `${good}: valid\n`);

    const no = await weir(['settings', 'check', bad], { env });
    assert.equal(no.code, 1);
    assert.match(
      no.stderr,
      new RegExp(
        `${bad}:3:3: inventory\\.max_asets: unknown setting \\(did you mean 'max_assets'\\?\\)`,
      ),
    );

    // A broken file named by --config stops the commands that use settings, with its errors.
    const run = await weir(['--config', bad, 'settings', 'show'], { env });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /bad\.yaml:3:3: inventory\.max_asets/);

    const shown = await weir(['settings', 'show'], { env: { WEIR_CONFIG: good } });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^# effective settings: ${good} over the defaults`));
    assert.match(shown.stdout, /fold_window_s: 120\n/);
    assert.match(shown.stdout, /max_assets: 100000\n/);

    const checked = await weir(['--config', good, 'settings', 'check']);
    assert.equal(checked.stdout, `${good}: valid\n`);

    // The values reach the engines: a bound from the file caps the inventory (no --max-assets given).
    const small = path.join(dir, 'small.yaml');
    writeFileSync(small, 'weir: settings/1\ninventory:\n  max_assets: 2\n');
    const plant = path.join(repoRoot, 'fixtures/plant.pcap');
    const capped = await weir(['--config', small, 'discover', '--json', plant], { env });
    assert.equal(capped.code, 0, capped.stderr);
    assert.equal((JSON.parse(capped.stdout) as { assets: unknown[] }).assets.length, 2);
    assert.match(capped.stderr, /bounds reached, not tracked: .*assets_not_tracked=/);
    const full = await weir(['discover', '--json', plant], { env });
    assert.ok((JSON.parse(full.stdout) as { assets: unknown[] }).assets.length > 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
