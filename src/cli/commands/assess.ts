import type { Command } from 'commander';
import { openExistingStore, STORE_HINT } from '../identity.js';
import { advisoryCount } from '../../store/advisory-store.js';
import { vulnerabilityReport } from '../../assess/vuln-report.js';
import type { Confidence } from '../../assess/advisories/match.js';
import type { VulnerabilityReport } from '../../assess/vulnerabilities.js';
import { renderColumns } from '../columns.js';

const LEVELS: Confidence[] = ['exact', 'family', 'possible'];

export function registerAssess(program: Command): void {
  const cmd = program
    .command('assess')
    .description('assess the plant: vulnerabilities from offline advisories');
  cmd
    .command('vulns')
    .requiredOption('--db <path>', 'store holding the inventory and the imported advisories')
    .option(
      '--json',
      'print the report as JSON (per asset: addresses, advisories, CVEs, confidence, reason, CVSS, fix, window)',
    )
    .option(
      '--min-confidence <level>',
      'exact (order/catalog number or model, firmware in range), family (family, firmware in range) or possible (firmware unknown or range unreadable)',
      'family',
    )
    .description('which assets the imported advisories apply to, worst first')
    .action((opts: { db: string; json?: boolean; minConfidence: string }) => {
      if (!LEVELS.includes(opts.minConfidence as Confidence))
        throw new Error(
          `--min-confidence: '${opts.minConfidence}' is not one of ${LEVELS.join(', ')}`,
        );
      const db = openExistingStore(opts.db, STORE_HINT);
      try {
        if (advisoryCount(db) === 0)
          throw new Error(
            `no advisories in ${opts.db}: weir advisories import PATH --db ${opts.db}`,
          );
        const r = vulnerabilityReport(db, { minConfidence: opts.minConfidence as Confidence });
        process.stdout.write(opts.json ? JSON.stringify(r, null, 1) + '\n' : text(r));
      } finally {
        db.close();
      }
    });
}

function text(r: VulnerabilityReport): string {
  const rows: string[][] = [];
  for (const a of r.assets)
    for (const f of a.findings)
      rows.push([
        a.addresses.join(' '),
        [a.vendor, a.model, a.firmware].filter(Boolean).join(' '),
        f.advisoryId,
        f.cvss ? `${f.cvss.score.toFixed(1)}` : '-',
        f.confidence,
        f.fixAvailable ? (f.window ? `yes, ${f.window.name}` : 'yes') : 'no',
        `${f.cves.join(' ')}: ${f.reason}`,
      ]);
  const head = `${r.assets.length} vulnerable assets, ${r.byAdvisory.length} advisories apply (of ${r.advisories} imported; confidence ${r.minConfidence} or better)\n`;
  const windows =
    r.maintenanceWindows.length > 0
      ? `maintenance windows: ${r.maintenanceWindows.map((w) => `${w.name} (${w.when}${w.nextStart ? `, next ${w.nextStart}` : ''})`).join('; ')}\n`
      : '';
  if (rows.length === 0) return head + windows;
  return (
    head +
    windows +
    renderColumns(['ASSET', 'IDENTITY', 'ADVISORY', 'CVSS', 'CONFIDENCE', 'FIX', 'WHY'], rows) +
    '\n'
  );
}
