import type { ExportEvent } from '../event.js';

/** Who is sending: fills the observer / device fields of every format. */
export interface Observer {
  hostname: string;
  product: string;
  vendor: string;
  version: string;
}

/** A SIEM format: one event in, the text of one message out (no syslog header, no newline). */
export interface ExportFormat {
  readonly name: string;
  render(e: ExportEvent, o: Observer): string;
}
