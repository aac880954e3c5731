import type { Command } from 'commander';
import { DetectionEngine, type EngineOptions } from '../../detect/engine.js';
import type { Detection } from '../../detect/detection.js';
import {
  latestBaseline,
  baselineVersion,
  listMutes,
  saveDetections,
} from '../../store/baseline-store.js';
import {
  EXIT_CAPTURE_INCOMPLETE,
  runCaptures,
  runLive,
  warnCaptureErrors,
  type FileResult,
} from '../run-capture.js';
import { LineWriter } from '../line-writer.js';
import { renderColumns } from '../columns.js';
import { parseTimeArg } from '../time-arg.js';
import { openExistingStore, STORE_HINT, withIdentity, type IdentityOpts } from '../identity.js';
import { proveEnforcer } from '../enforcer.js';
import {
  actionLine,
  startPlaybooks,
  withPlaybookOptions,
  type PlaybookHostOpts,
} from '../playbook-host.js';
import { readPolicyFile } from './policy.js';
import { CompiledPolicy } from '../../policy/evaluate.js';
import { decoyAddresses } from '../../policy/decoy-model.js';
import { activePolicy } from '../../respond/change-control.js';
import { between } from '../../dissect/stage.js';
import {
  mainThreadDetectors,
  mergeDetections,
  type DetectShardInit,
  type DetectShardResult,
} from '../../detect/shard-split.js';
import {
  boundsSplit,
  readAgainOnOneThread,
  runShardedCaptures,
  workerCount,
} from '../run-sharded.js';
import { detectRoute } from '../../discover/shard-index.js';
import { DetectShard } from '../../detect/shard-core.js';
import { cliSettings } from '../settings.js';
import { fileDetections, storeLookups } from '../../respond/incident-book.js';
import { incidentSummary } from '../../detect/incident.js';
import { Exporter, LiveDetections } from '../../export/exporter.js';
import { reportDrain, sinkSpecs, withExportOptions, type ExportOpts } from '../export-options.js';

export function detectionLine(d: Detection): string {
  const when = new Date(d.ts * 1000).toISOString().replace('T', ' ').slice(0, 19);
  return `${when} ${d.severity.toUpperCase().padEnd(8)} ${d.type} ${d.src} → ${d.dst}${d.count > 1 ? ` ×${d.count}` : ''}: ${d.explanation}`;
}

export function registerDetect(program: Command): void {
  withExportOptions(withIdentity(withPlaybookOptions(program.command('detect'))))
    .description('check traffic against the learned baseline and report detections')
    .argument('[files...]', 'capture files (pcap/pcapng, "-" for stdin)')
    .requiredOption('--baseline <db>', 'store holding the baseline (from `weir learn`)')
    .option('--version <n>', 'baseline version to use (default: latest)')
    .option('--jsonl', 'one JSON object per detection')
    .option(
      '-i, --interface <name>',
      'follow live traffic on an interface (needs tcpdump and capture rights)',
    )
    .option('--bpf <filter>', 'capture filter for --interface')
    .option('--duration <seconds>', 'stop live capture after this many seconds')
    .option(
      '--window <seconds>',
      'fold repeats of a detection within this window (default: settings detect.fold_window_s, 600)',
    )
    .option('--no-save', 'do not store the detections')
    .option(
      '--from <time>',
      'check only traffic from this time on (ISO 8601, epoch seconds, or N% of the captures)',
    )
    .option(
      '--policy <file>',
      "policy whose zones name each detection's zone (default: the active policy in the store)",
    )
    .option(
      '--workers <n>',
      'threads to spread capture files over, by address pair: the main thread and N - 1 workers (same detections as one thread; default: settings dissect.workers, 1)',
    )
    .option(
      '--export-timeout <seconds>',
      'after capture files: how long to wait for --export receivers (what is not sent waits in the store for `weir export`)',
      '10',
    )
    .action(
      async (
        files: string[],
        opts: {
          baseline: string;
          version?: string;
          jsonl?: boolean;
          interface?: string;
          bpf?: string;
          duration?: string;
          window?: string;
          save: boolean;
          from?: string;
          policy?: string;
          exportTimeout: string;
          workers?: string;
        } & PlaybookHostOpts &
          IdentityOpts &
          ExportOpts,
      ) => {
        if (!opts.interface && files.length === 0)
          throw new Error('give capture files, "-" for stdin, or --interface');
        const live = Boolean(opts.interface) || files.includes('-');
        const workers = workerCount(opts.workers);
        if (workers > 1 && (live || opts.export.length > 0))
          throw new Error(
            '--workers spreads capture files over threads; live input and --export run on one thread',
          );
        if (opts.playbooks && !live)
          throw new Error(
            'playbooks act on live traffic only (--interface, or "-" for a stream on stdin), never on recorded captures',
          );
        if (opts.playbooks && opts.policy)
          throw new Error(
            "playbooks come from the store's active policy (approved through change control), not from --policy",
          );
        const caller = opts.playbooks
          ? await proveEnforcer({ ...opts, db: opts.baseline }, 'detect --playbooks')
          : null;
        const from = opts.from !== undefined ? parseTimeArg(opts.from, files) : -Infinity;
        const db = openExistingStore(opts.baseline, STORE_HINT);
        let playbooksClosed = false;
        let closePlaybooks: (() => Promise<void>) | null = null;
        try {
          let b = opts.version ? baselineVersion(db, Number(opts.version)) : latestBaseline(db);
          if (!b)
            throw new Error(
              `no baseline${opts.version ? ` version ${opts.version}` : ''} in ${opts.baseline}: run \`weir learn\` first`,
            );
          const policy = opts.policy
            ? readPolicyFile(opts.policy).policy
            : activePolicy(db)?.policy;
          const zones = policy ? new CompiledPolicy(policy) : null;
          const out = new LineWriter(process.stdout);
          const follow = live;
          const settings = cliSettings().detect;
          // Started once the engine is built: they share its compiled baseline.
          let playbooks: ReturnType<typeof startPlaybooks> | null = null;
          const exporter =
            opts.export.length > 0 ? new Exporter(db, sinkSpecs(opts.export, opts)) : null;
          const exported = exporter !== null ? new LiveDetections(exporter) : null;
          // Sharded: this engine keeps the cross-flow detectors, group I/O's and decoy contact; the workers the per-edge ones.
          // Its io_timing counts what its bounds forgot here (the engine's own `capped` is its default detectors').
          const mainCapped: Record<string, number> = {};
          const engineOpts = (sharded: boolean): EngineOptions => ({
            settings,
            windowSeconds: opts.window !== undefined ? Number(opts.window) : settings.fold_window_s,
            mutes: listMutes(db),
            zoneOf: zones ? (ip) => zones.zoneOf(ip)?.name ?? null : undefined,
            decoys: decoyAddresses(policy?.decoys),
            ...(sharded ? { detectors: mainThreadDetectors(settings, mainCapped) } : {}),
            onDetection:
              follow || exported !== null
                ? (d) => {
                    // The playbooks first: the kernel hears of the detection before the terminal does.
                    playbooks?.onDetection(d);
                    exported?.onDetection(d);
                    if (follow) out.write(opts.jsonl ? JSON.stringify(d) : detectionLine(d));
                  }
                : undefined,
          });
          let engine = new DetectionEngine(b, engineOpts(workers > 1));
          if (caller !== null) {
            playbooks = startPlaybooks(
              db,
              b,
              caller,
              opts,
              (a) => process.stderr.write(`${actionLine(a)}\n`),
              undefined,
              engine.baseline,
            );
            closePlaybooks = playbooks.close;
            process.stderr.write(`${playbooks.describe}\n`);
          }
          // Started once nothing before the pass can refuse (the playbooks' policy), as before.
          exporter?.start();
          // The engine keeps its own compiled baseline: unless workers need the parsed one, it is dropped before the
          // pass, not promoted out of the young generation by the pass's first collections and marked through it.
          const version = b.version;
          const shardBaseline = workers > 1 ? b : null;
          b = null;
          // Stages that follow the engine (exporters, playbooks) join this list; a live run flushes them.
          let stages = between(from, Infinity, engine);
          const flushMs = cliSettings().ingest.flush_ms;
          let shards: DetectShardResult[] | null = null;
          // What the engine's own bounds forgot while reading each file is reported with that file.
          let seen: Record<string, number> = {};
          let capped = workers > 1 ? mainCapped : engine.capped;
          const afterFile = (r: FileResult): void => {
            for (const [k, v] of Object.entries(capped))
              if (v > (seen[k] ?? 0)) r.capped[k] = (r.capped[k] ?? 0) + v - (seen[k] ?? 0);
            seen = { ...capped };
          };
          if (opts.interface) {
            const live = await runLive(opts.interface, stages, {
              bpf: opts.bpf,
              seconds: opts.duration ? Number(opts.duration) : undefined,
              flushMs,
              // Playbooks act on the frame as it arrives, not when the capture buffer next wakes up.
              immediate: playbooks !== null,
            });
            // The capture stopped by itself (runLive said why): the run covers only part of the time asked for.
            if (live.summary.error && !process.exitCode) process.exitCode = EXIT_CAPTURE_INCOMPLETE;
          } else if (workers > 1) {
            const extra: DetectShardInit = {
              baseline: shardBaseline!,
              settings,
              windowSeconds:
                opts.window !== undefined ? Number(opts.window) : settings.fold_window_s,
              mutes: listMutes(db),
              decoys: [...decoyAddresses(policy?.decoys)],
              from,
            };
            const r = await runShardedCaptures(files, workers, [stages], {
              maxEdges: cliSettings().inventory.max_edges,
              // The workers pass on only what is in the time slice (their own `between`).
              onMessage: (m) => engine.onMessage(m),
              worker: new URL('../../detect/shard-worker.js', import.meta.url),
              extra,
              route: detectRoute(from),
              inline: (init) => new DetectShard(init),
              afterFile,
            });
            // A bound split between the shards was reached (a flood of TCP streams, say): one thread's result
            // could differ, so the files are read again on one thread (boundsSplit), unless they cannot be read
            // twice (a FIFO, a pipe): then the sharded result stands, said so.
            if (readAgainOnOneThread(boundsSplit(r.results), files)) {
              engine = new DetectionEngine(shardBaseline!, engineOpts(false));
              stages = between(from, Infinity, engine);
              capped = engine.capped;
              seen = {};
              warnCaptureErrors(await runCaptures(files, stages, { afterFile }));
            } else {
              shards = r.extras as DetectShardResult[];
              warnCaptureErrors(r.results);
            }
          } else {
            warnCaptureErrors(
              await runCaptures(files, stages, {
                flushMs: follow ? flushMs : undefined,
                afterFile,
              }),
            );
          }
          await playbooks?.close();
          playbooksClosed = true;
          let ds = engine.finish();
          let muted = engine.muted;
          if (shards !== null) {
            // The workers name no zones (the policy stays here): named as the engine would, dst first.
            const zoneOf = (ip: string): string | null => zones?.zoneOf(ip)?.name ?? null;
            for (const s of shards) {
              for (const d of s.detections) d.zone = zoneOf(d.dst) ?? zoneOf(d.src);
              muted += s.muted;
            }
            ds = mergeDetections([ds, ...shards.map((s) => s.detections)]);
          }
          if (opts.save) {
            saveDetections(db, ds, version);
            // Detections are filed into incidents as they are stored (rebuild: `weir incidents rebuild`).
            const incidents = fileDetections(db, ds, { lookups: storeLookups(db, zones) });
            exporter?.offerIncidents(incidents.map(incidentSummary));
          }
          if (!follow) {
            if (opts.jsonl) for (const d of ds) out.write(JSON.stringify(d));
            else out.write(renderDetections(ds, muted));
          }
          await out.end();
          if (exporter !== null) {
            exported!.finish(ds);
            const left = await exporter.drain(Number(opts.exportTimeout) * 1000);
            await exporter.stop();
            reportDrain(left);
            // Pending events are safe in the store; a receiver that can never be trusted is an error.
            if (exporter.deliveries.some((d) => d.fatal !== null)) process.exitCode = 1;
          }
        } finally {
          if (!playbooksClosed) await closePlaybooks?.();
          db.close();
        }
      },
    );
}

function renderDetections(ds: Detection[], muted: number): string {
  if (ds.length === 0) return `no detections${muted ? ` (${muted} muted)` : ''}`;
  const rows = ds.map((d) => [
    new Date(d.ts * 1000).toISOString().replace('T', ' ').slice(0, 19),
    d.severity,
    d.type,
    `${d.src} → ${d.dst}`,
    String(d.count),
    d.explanation,
  ]);
  return `${renderColumns(['first seen', 'severity', 'type', 'source → destination', 'count', 'explanation'], rows)}\n${ds.length} detections${muted ? `, ${muted} muted findings` : ''}`;
}
