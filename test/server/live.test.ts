import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { repoRoot } from '../helpers/paths.js';

const cli = path.join(repoRoot, 'dist/src/cli/main.js');
const plant = path.join(repoRoot, 'fixtures/plant.pcap');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test(
  'weir serve --capture -: a streamed capture shows up live over the WebSocket, only for logged-in users',
  { timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weir-live-'));
    const db = path.join(dir, 'weir.db');
    execFileSync(
      process.execPath,
      [cli, 'learn', plant, '--db', db, '--create', '--until', '50%'],
      { stdio: 'ignore' },
    );
    // The first user of a store is its admin; the admin adds ana.
    const token = `${db}.root-token`;
    execFileSync(
      process.execPath,
      [cli, 'user', 'add', 'root', '--role', 'admin', '--db', db, '--password-stdin'],
      { input: 'live-password-12\n', stdio: ['pipe', 'ignore', 'pipe'] },
    );
    execFileSync(
      process.execPath,
      [cli, 'login', '--db', db, '--user', 'root', '--token-file', token],
      { input: 'live-password-12\n', stdio: ['pipe', 'ignore', 'pipe'] },
    );
    execFileSync(
      process.execPath,
      [
        cli,
        'user',
        'add',
        'ana',
        '--role',
        'analyst',
        '--db',
        db,
        '--password-stdin',
        '--token-file',
        token,
      ],
      { input: 'live-password-12\n', stdio: ['pipe', 'ignore', 'pipe'] },
    );
    const srv = spawn(
      process.execPath,
      [cli, 'serve', '--db', db, '--port', '0', '--capture', '-'],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    try {
      const url = await new Promise<string>((resolve) =>
        srv.stdout!.on('data', (d: Buffer) => {
          const m = /at (http:\/\/[0-9.:]+)/.exec(d.toString());
          if (m) resolve(m[1]!);
        }),
      );
      const login = await fetch(`${url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'ana', password: 'live-password-12' }),
      });
      assert.equal(login.status, 200);
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const wsUrl = `${url.replace('http', 'ws')}/api/live`;
      // Without a session the upgrade is refused (the dashboard's page sends its Origin; others are refused anyway).
      const refused = await new Promise<string>((resolve) => {
        const w = new WebSocket(wsUrl, { headers: { origin: url } });
        w.on('error', (e) => resolve(e.message));
        w.on('open', () => resolve('open'));
      });
      assert.match(refused, /401/);
      const events: Array<{
        type: string;
        packets?: number;
        detection?: { type: string; incidentId?: string | null };
      }> = [];
      const ws = new WebSocket(wsUrl, { headers: { cookie, origin: url } });
      const ended = new Promise<void>((resolve) =>
        ws.on('message', (m) => {
          const e = JSON.parse(m.toString()) as { type: string };
          events.push(e);
          if (e.type === 'ended') resolve();
        }),
      );
      await new Promise((r) => ws.on('open', r));
      // Stream the capture like tcpdump would: in pieces, over a few seconds.
      const bytes = readFileSync(plant);
      for (let off = 0; off < bytes.length; off += 16_384) {
        srv.stdin!.write(bytes.subarray(off, off + 16_384));
        await sleep(100);
      }
      srv.stdin!.end();
      await ended;
      ws.close();
      const stats = events.filter((e) => e.type === 'stats').map((e) => e.packets!);
      assert.ok(stats.length >= 2 && stats.at(-1)! === 1994, `stats: ${stats.join(', ')}`);
      assert.ok(
        stats.every((n, i) => i === 0 || n >= stats[i - 1]!),
        'packet counts only grow',
      );
      const types = events.filter((e) => e.type === 'detection').map((e) => e.detection!.type);
      for (const t of ['cpu_stop', 'port_scan', 'new_asset'])
        assert.ok(types.includes(t), `${t} pushed live (got ${types.join(', ')})`);
      const listed = (await (
        await fetch(`${url}/api/detections`, { headers: { cookie } })
      ).json()) as { total: number };
      assert.ok(listed.total >= 3, 'and stored');
      // Filed into incidents as they arrive: the intruder's detections share one, pushed with each detection.
      const intruder = events
        .filter(
          (e) =>
            e.type === 'detection' &&
            ['new_asset', 'port_scan', 'new_edge'].includes(e.detection!.type),
        )
        .map((e) => e.detection!.incidentId);
      assert.equal(intruder.length, 3);
      assert.ok(intruder[0] && intruder.every((i) => i === intruder[0]), intruder.join(', '));
      const incident = (await (
        await fetch(`${url}/api/incidents/${intruder[0]}`, { headers: { cookie } })
      ).json()) as { timeline: Array<{ type: string }>; tactics: string[] };
      assert.deepEqual(incident.tactics.slice(0, 3), [
        'initial-access',
        'discovery',
        'lateral-movement',
      ]);
      assert.ok(incident.timeline.some((s) => s.type === 'write_new_range'));
    } finally {
      srv.kill('SIGTERM');
      await new Promise((r) => srv.once('close', r));
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
