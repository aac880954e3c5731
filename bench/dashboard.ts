// Dashboard responsiveness on a large plant: 10,000 assets and 100,000 edges in the store. API latency per
// endpoint (median of repeated requests) and page times in headless Chromium (median of runs).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { openStore } from '../src/store/db.js';
import { mergeInventory } from '../src/store/inventory-store.js';
import { saveDetections } from '../src/store/baseline-store.js';
import { addUser } from '../src/store/change-store.js';
import { setPasswordHash } from '../src/store/session-store.js';
import { hashPassword } from '../src/server/passwords.js';
import { buildServer } from '../src/server/app.js';
import type { Asset, AssetRole, Edge } from '../src/discover/model.js';
import type { Detection } from '../src/detect/detection.js';
import { machine, median, root, today, writeSection } from './results.js';

const ROLES: AssetRole[] = [
  'plc',
  'plc',
  'plc',
  'hmi',
  'rtu',
  'historian',
  'engineering_workstation',
  'io_device',
  'workstation',
  'scada_server',
];
const ip = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** A plant of `n` assets and `m` edges, shaped like the inventory Weir builds (servers poll-served by clients). */
function plant(n: number, m: number): { assets: Asset[]; edges: Edge[] } {
  const t = 1_790_000_000;
  const assets: Asset[] = Array.from({ length: n }, (_, i) => ({
    id: ip(i + 1),
    ips: [ip(i + 1)],
    mac: null,
    macVendor: i % 3 ? 'Siemens AG' : 'Schneider Electric',
    hostnames: i % 5 ? [] : [`dev-${i}`],
    identity: i % 4 ? {} : { vendor: 'Siemens', product: 'CPU 1516', firmware: 'V2.9' },
    identitySources: {},
    role: ROLES[i % ROLES.length]!,
    roleReasons: ['benchmark'],
    serves: i % 3 ? ['modbus'] : [],
    uses: i % 3 ? [] : ['modbus'],
    firstSeen: t,
    lastSeen: t + 3600,
    packetsSent: 1000 + i,
    bytesSent: 100_000,
    packetsReceived: 1000,
    bytesReceived: 100_000,
  }));
  const edges: Edge[] = Array.from({ length: m }, (_, k) => {
    const c = ip(1 + ((k * 7919) % n)),
      s = ip(1 + ((k * 104729 + 13) % n));
    const port = [502, 102, 20000, 44818][k % 4]!;
    return {
      id: `${c}>${s}/tcp/${port}/${k}`,
      client: c,
      server: s,
      transport: 'tcp',
      port,
      protocol: ['modbus', 's7comm', 'dnp3', 'enip'][k % 4]!,
      protocols: [],
      packets: 1 + ((k * 31) % 100_000),
      bytes: 1000,
      firstSeen: t,
      lastSeen: t + 3600,
      functions: [
        {
          protocol: 'modbus',
          func: 3,
          name: 'READ_HOLDING_REGISTERS',
          count: 100,
          writes: 0,
          exceptions: 0,
        },
      ],
      targets: [],
      requests: 100,
      responses: 100,
      pollInterval: 1,
      pollJitter: 0.01,
      maxRequestGap: 2,
      anomalies: 0,
      anomalyKinds: [],
    };
  });
  return { assets, edges };
}

export async function recordDashboard(
  runs: number,
  assets = 10_000,
  edges = 100_000,
): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-bench-web-'));
  const db = openStore(path.join(dir, 'weir.db'));
  const t0 = Date.now();
  mergeInventory(db, plant(assets, edges));
  const dets: Detection[] = Array.from({ length: 2000 }, (_, i) => ({
    id: `d${i}`,
    type: 'new_edge',
    severity: ['low', 'medium', 'high', 'critical'][i % 4] as Detection['severity'],
    ts: 1_790_000_000 + i,
    lastTs: 1_790_000_000 + i,
    count: 1,
    src: ip(1 + i),
    dst: ip(2 + i),
    protocol: 'modbus',
    detail: '',
    zone: null,
    evidence: { frames: [i], fields: {} },
    explanation: 'benchmark',
    suggestedResponse: '',
    techniques: [],
  }));
  saveDetections(db, dets, 1);
  const loadS = (Date.now() - t0) / 1000;
  addUser(db, 'bench', ['analyst']);
  setPasswordHash(db, 'bench', await hashPassword('bench-password-1'));
  const app = await buildServer({ db, webRoot: path.join(root, 'dist/web') });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const login = await fetch(`${url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'bench', password: 'bench-password-1' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const api: Array<[string, string]> = [
      ['overview', '/api/overview'],
      ['assets, first page', '/api/assets?limit=100'],
      ['assets, search', '/api/assets?q=dev-77&limit=100'],
      ['assets, by role', '/api/assets?role=historian&limit=100'],
      ['asset page', `/api/assets/${ip(4242)}`],
      ['map (2,000 busiest pairs)', '/api/map'],
      ['detections', '/api/detections?limit=200'],
    ];
    const apiRows: string[] = [];
    for (const [name, p] of api) {
      const ms: number[] = [];
      let bytes = 0;
      for (let i = 0; i < 15; i++) {
        const s = performance.now();
        const r = await fetch(`${url}${p}`, { headers: { cookie } });
        bytes = (await r.arrayBuffer()).byteLength;
        ms.push(performance.now() - s);
      }
      apiRows.push(
        `| ${name} | \`${p}\` | ${median(ms).toFixed(1)} | ${(bytes / 1024).toFixed(0)} |`,
      );
    }
    const pageRows: string[] = [];
    const exe = '/usr/bin/chromium';
    if (existsSync(exe)) {
      const browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
      const times: Record<string, number[]> = {
        overview: [],
        assets: [],
        'asset page': [],
        map: [],
        detections: [],
      };
      for (let r = 0; r < runs; r++) {
        const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        await page.goto(url);
        await page.fill('input[name=user]', 'bench');
        await page.fill('input[name=password]', 'bench-password-1');
        let s = performance.now();
        await page.click('button[type=submit]');
        await page.getByTestId('asset-count').waitFor();
        times.overview!.push(performance.now() - s);
        s = performance.now();
        await page.click('a[href="#/assets"]');
        await page.waitForFunction(
          () => document.querySelectorAll('[data-testid=assets] tbody tr').length === 100,
        );
        times.assets!.push(performance.now() - s);
        s = performance.now();
        await page.goto(`${url}/#/assets/${ip(4242)}`);
        await page.getByTestId('asset-edges').waitFor();
        times['asset page']!.push(performance.now() - s);
        s = performance.now();
        await page.click('a[href="#/map"]');
        await page.getByTestId('map-summary').waitFor();
        await page.locator('[data-testid=map] canvas').first().waitFor();
        await page.evaluate(
          () => new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res))),
        );
        times.map!.push(performance.now() - s);
        s = performance.now();
        await page.click('a[href="#/detections"]');
        await page.waitForFunction(
          () => document.querySelectorAll('[data-testid=detections] tbody tr').length >= 200,
        );
        times.detections!.push(performance.now() - s);
        await page.close();
      }
      await browser.close();
      for (const [k, v] of Object.entries(times))
        pageRows.push(`| ${k} | ${median(v).toFixed(0)} |`);
    }
    const body = [
      `## dashboard responsiveness (${today()})`,
      '',
      `Machine: ${machine()}.`,
      '',
      `Store: ${assets.toLocaleString('en-US')} assets, ${edges.toLocaleString('en-US')} edges, 2,000 detections (synthetic plant, bench/dashboard.ts; written in ${loadS.toFixed(1)} s). Server: \`weir serve\` code in process, SQLite, loopback.`,
      '',
      'API, median of 15 requests:',
      '',
      '| request | path | ms | KiB |',
      '| --- | --- | ---: | ---: |',
      ...apiRows,
      '',
      ...(pageRows.length
        ? [
            `Pages in headless Chromium (Debian ${exe}), from the click to the data on screen, median of ${runs} runs:`,
            '',
            '| page | ms |',
            '| --- | ---: |',
            ...pageRows,
            '',
          ]
        : ['Chromium not installed: page times not measured.', '']),
      'Lists are paged in SQL and the map shows the busiest 2,000 communicating pairs first (more on request), so neither grows with the plant.',
      '',
    ].join('\n');
    console.log(body);
    writeSection('dashboard responsiveness', body);
  } finally {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
