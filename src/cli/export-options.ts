import type { Command } from 'commander';
import { parseDestination } from '../export/destination.js';
import type { SinkSpec } from '../export/exporter.js';
import { formatNamed } from '../export/formats/index.js';
import { DEFAULT_ROTATION } from '../export/transports/jsonl-file.js';

const collect = (v: string, all: string[]): string[] => [...all, v];

export interface ExportOpts {
  export: string[];
  format: string[];
  ca?: string;
  jsonlMaxMb?: string;
  jsonlKeep?: string;
}

/** The live export options of `weir detect` and `weir serve`. */
export function withExportOptions(cmd: Command): Command {
  return cmd
    .option(
      '--export <url>',
      'send detections to a SIEM as they happen: syslog+tcp://HOST:PORT, syslog+udp://…, syslog+tls://…, or jsonl:FILE (repeatable)',
      collect,
      [] as string[],
    )
    .option(
      '--format <name>',
      'format of each --export, in the same order (cef, leef, ecs; one applies to all; default cef)',
      collect,
      [] as string[],
    )
    .option('--ca <file>', 'CA certificate (PEM) a syslog+tls:// receiver must be signed by');
}

/** Destinations and formats paired: the i-th --format goes with the i-th destination, a single one with all. */
export function sinkSpecs(urls: readonly string[], o: Omit<ExportOpts, 'export'>): SinkSpec[] {
  if (o.format.length > 1 && o.format.length !== urls.length)
    throw new Error(
      `give one --format for all destinations or one per destination (${urls.length} destinations, ${o.format.length} formats)`,
    );
  const rotation = {
    maxBytes:
      o.jsonlMaxMb !== undefined ? Number(o.jsonlMaxMb) * 2 ** 20 : DEFAULT_ROTATION.maxBytes,
    keep: o.jsonlKeep !== undefined ? Number(o.jsonlKeep) : DEFAULT_ROTATION.keep,
  };
  if (!Number.isFinite(rotation.maxBytes) || !Number.isInteger(rotation.keep))
    throw new Error('--jsonl-max-mb and --jsonl-keep take numbers');
  return urls.map((u, i) => {
    const destination = parseDestination(u);
    return {
      destination,
      format: formatNamed(o.format[o.format.length > 1 ? i : 0] ?? 'cef'),
      ca: destination.transport === 'tls' ? o.ca : undefined,
      rotation,
    };
  });
}

/** What a finished drain left behind, said plainly on stderr; true when everything went out. */
export function reportDrain(
  left: ReadonlyArray<{ name: string; pending: number; error: string | null }>,
): boolean {
  let ok = true;
  for (const l of left) {
    if (l.pending === 0) continue;
    ok = false;
    process.stderr.write(
      `weir: export to ${l.name}: ${l.pending} events wait in the store${l.error ? ` (${l.error})` : ''}; \`weir export\` sends them when the receiver is back\n`,
    );
  }
  return ok;
}
