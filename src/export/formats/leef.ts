import { TEN_SCALE, type ExportEvent } from '../event.js';
import type { ExportFormat, Observer } from './format.js';

/**
 * IBM QRadar LEEF 2.0: header `LEEF:2.0|vendor|product|version|eventID|delimiter|`, then attributes separated
 * by the delimiter. The delimiter is '^', not LEEF's default tab: syslog relays escape control characters
 * (rsyslog turns a tab into "#011" by default), which would fuse every attribute into one. QRadar's predefined
 * keys where one fits, plain names otherwise.
 */
export const leef: ExportFormat = {
  name: 'leef',
  render(e: ExportEvent, o: Observer): string {
    const attrs: Array<[string, string | number | null]> = [
      ['devTime', new Date(e.ts * 1000).toISOString()],
      ['devTimeFormat', "yyyy-MM-dd'T'HH:mm:ss.SSSX"],
      ['cat', e.kind === 'incident' ? 'incident' : e.type],
      ['sev', TEN_SCALE[e.severity]],
      ['src', e.src],
      ['dst', e.dst],
      ['dstPort', e.dstPort],
      ['externalId', e.id],
      ['subjectId', e.subject],
      ['update', e.update],
      ['reason', e.reason],
      ['status', e.status],
      ['eventCount', e.count],
      ['icsProtocol', e.protocol],
      ['zone', e.zones.join(',') || null],
      ['attackTechnique', e.techniques.join(',') || null],
      ['attackTactic', e.tactics.join(',') || null],
      ['identHostName', o.hostname],
      ['name', e.name],
      ['msg', e.message],
    ];
    const header = ['LEEF:2.0', o.vendor, o.product, o.version, e.type, '^']
      .map(leefHeader)
      .join('|');
    const body = attrs
      .filter(([, v]) => v !== null && v !== '')
      .map(([k, v]) => `${k}=${leefValue(String(v))}`)
      .join('^');
    return `${header}|${body}`;
  },
};

function leefHeader(s: string): string {
  return s.replace(/[|\r\n\t]+/g, ' ');
}

/** A value never holds the delimiter nor a control character (LEEF has no escape): they become spaces. */
export function leefValue(s: string): string {
  return s.replace(/[\^\x00-\x1f]+/g, ' ');
}
