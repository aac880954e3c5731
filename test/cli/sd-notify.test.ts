import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SystemdNotifier } from '../../src/cli/sd-notify.js';
import { cli } from '../helpers/weir-cli.js';
import { notifySocket, until } from '../helpers/notify-socket.js';

test('weir serve under a notify socket: READY once listening, watchdog pings while healthy, STOPPING on SIGTERM', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-sdnotify-'));
  const sock = notifySocket(path.join(dir, 'notify'));
  try {
    await sock.bound;
    const serve = spawn(
      process.execPath,
      [cli, 'serve', '--db', path.join(dir, 'w.db'), '--port', '0'],
      {
        env: { ...process.env, NOTIFY_SOCKET: path.join(dir, 'notify'), WATCHDOG_USEC: '200000' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const closed = new Promise<number | null>((r) => serve.on('close', r));
    await until('READY=1', () => sock.got.some((m) => m.split('\n').includes('READY=1')));
    const ready = sock.got.find((m) => m.includes('READY=1'))!;
    assert.match(ready, /^STATUS=serving .*w\.db at http:\/\/127\.0\.0\.1:[0-9]+/m);
    assert.match(ready, new RegExp(`^MAINPID=${serve.pid}$`, 'm'));
    await until(
      'three watchdog pings',
      () => sock.got.filter((m) => m === 'WATCHDOG=1').length >= 3,
    );
    serve.kill('SIGTERM');
    assert.equal(await closed, 0);
    assert.ok(
      sock.got.some((m) => m.startsWith('STOPPING=1')),
      sock.got.join(' | '),
    );
  } finally {
    sock.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an abstract notify socket (@name) works too; no NOTIFY_SOCKET means no notifier; a failing health check withholds the ping', async () => {
  assert.equal(SystemdNotifier.fromEnv({}), null);
  assert.equal(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '/x' })!.pingMs, null);
  assert.equal(
    SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '20000000' })!.pingMs,
    10_000,
  );
  assert.equal(
    SystemdNotifier.fromEnv({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' })!
      .pingMs,
    null,
    'a watchdog meant for another process',
  );
  const name = `@weir-test-${randomBytes(4).toString('hex')}`;
  const sock = notifySocket(name);
  try {
    await sock.bound;
    const n = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: name, WATCHDOG_USEC: '100000' })!;
    let healthy = false;
    n.startWatchdog(() => healthy);
    n.ready('testing');
    await until('READY', () => sock.got.some((m) => m.includes('READY=1')));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sock.got.filter((m) => m === 'WATCHDOG=1').length, 0, 'unhealthy: no ping');
    healthy = true;
    await until('a ping once healthy', () => sock.got.includes('WATCHDOG=1'));
    n.close();
  } finally {
    sock.stop();
  }
});
