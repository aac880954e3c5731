import { SYSLOG_SEVERITY, type ExportEvent } from './event.js';

/** Facility names of RFC 5424 §6.2.1 that a SIEM feed sensibly uses. */
export const FACILITIES: Readonly<Record<string, number>> = {
  auth: 4,
  authpriv: 10,
  audit: 13,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

export interface SyslogHeader {
  facility: number;
  hostname: string;
  appName: string;
}

/** Private enterprise number 32473 is the one RFC 5612 reserves for examples and documentation. */
export const SD_ID = 'weir@32473';

/** PRINTUSASCII without space, cut to the field's length; empty becomes NILVALUE. */
function headerField(s: string, max: number): string {
  const v = s.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return v === '' ? '-' : v;
}

/** SD-PARAM values escape '"', '\' and ']' (RFC 5424 §6.3.3). */
function sdValue(s: string): string {
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/**
 * One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`. The timestamp is the event's
 * own time (UTC, milliseconds); MSGID says detection or incident; the structured data carries the event id
 * and the update number so a receiver can drop a re-sent copy without parsing the format in MSG.
 */
export function syslogMessage(e: ExportEvent, payload: string, h: SyslogHeader): string {
  const pri = h.facility * 8 + SYSLOG_SEVERITY[e.severity];
  const ts = Number.isFinite(e.ts) ? new Date(e.ts * 1000).toISOString() : '-';
  const sd = `[${SD_ID} eventId="${sdValue(e.id)}" update="${e.update}"]`;
  return `<${pri}>1 ${ts} ${headerField(h.hostname, 255)} ${headerField(h.appName, 48)} - ${headerField(e.kind, 32)} ${sd} ${payload}`;
}

/** Octet-counting framing (RFC 6587 §3.4.1, RFC 5425 §4.3): `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function octetCounted(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `), body]);
}
