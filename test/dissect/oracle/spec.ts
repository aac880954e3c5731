import type { ProtocolName } from '../../../src/dissect/message.js';

/**
 * How tshark (the dissection oracle) names one protocol's function codes, so the differential test can compare
 * Weir's messages with tshark's frame by frame.
 */
export interface OracleSpec {
  /** Weir protocol name whose messages are compared. */
  protocol: ProtocolName;
  /** tshark display filter selecting frames that carry this protocol's PDUs, e.g. 'mbtcp'. */
  filter: string;
  /** tshark fields to extract (-e). */
  fields: string[];
  /** Extra tshark options, e.g. ['-d', 'tcp.port==5020,mbtcp'] or preference overrides. */
  tsharkArgs?: string[];
  /**
   * The function codes tshark saw in one frame, from the field values in `fields` order (each value may
   * hold several comma-separated occurrences). Must return them in the same sense as Weir's Message.func.
   */
  funcs(values: string[]): number[];
}
