import { TEN_SCALE, type ExportEvent } from '../event.js';
import type { ExportFormat, Observer } from './format.js';

/** ArcSight CEF (Common Event Format, rev. 25): a pipe-separated header and key=value extensions. */
export const cef: ExportFormat = {
  name: 'cef',
  render(e: ExportEvent, o: Observer): string {
    const ext: Array<[string, string | number | null]> = [
      ['rt', Math.round(e.ts * 1000)],
      ['start', Math.round(e.start * 1000)],
      ['end', Math.round(e.end * 1000)],
      ['externalId', e.id],
      ['cat', e.kind === 'incident' ? 'incident' : `detection/${e.type}`],
      ['cnt', e.count],
      ['src', e.src],
      ['dst', e.dst],
      ['dpt', e.dstPort],
      ['app', e.protocol],
      ['dvchost', o.hostname],
      ['cs1Label', 'zone'],
      ['cs1', e.zones.join(',') || null],
      ['cs2Label', 'attackTechniques'],
      ['cs2', e.techniques.join(',') || null],
      ['cs3Label', e.kind === 'incident' ? 'incidentId' : 'detectionId'],
      ['cs3', e.subject],
      ['cs4Label', 'attackTactics'],
      ['cs4', e.tactics.join(',') || null],
      ['cs5Label', 'reason'],
      ['cs5', e.status !== null ? `${e.reason}/${e.status}` : e.reason],
      ['cn1Label', 'update'],
      ['cn1', e.update],
      ['msg', e.message],
    ];
    const header = [
      'CEF:0',
      o.vendor,
      o.product,
      o.version,
      e.type,
      e.name,
      String(TEN_SCALE[e.severity]),
    ]
      .map((h, i) => (i === 0 ? h : cefHeader(h)))
      .join('|');
    const body = ext
      .filter(([, v]) => v !== null && v !== '')
      .map(([k, v]) => `${k}=${cefValue(String(v))}`)
      .join(' ');
    return `${header}|${body}`;
  },
};

/** Header fields: backslash and pipe are escaped; a header has no line breaks. */
export function cefHeader(s: string): string {
  if (!/[\\|\r\n]/.test(s)) return s;
  return s.replace(/[\\|]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

/** Extension values: backslash and equals are escaped, line breaks written as \n / \r. */
export function cefValue(s: string): string {
  if (!/[\\=\r\n]/.test(s)) return s;
  return s
    .replace(/[\\=]/g, (c) => `\\${c}`)
    .replace(/\r/g, '\\r')
    .replace(/\n/g, '\\n');
}
