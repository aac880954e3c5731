import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

/** PDUs without a service, by tshark's presence field; Weir numbers them 0x200 + MMSpdu tag (mms-names.ts). */
const PDU_ELEMENTS: Array<[string, number]> = [
  ['mms.rejectPDU_element', 4],
  ['mms.cancel_RequestPDU', 5],
  ['mms.cancel_ResponsePDU', 6],
  ['mms.cancel_ErrorPDU_element', 7],
  ['mms.initiate_RequestPDU_element', 8],
  ['mms.initiate_ResponsePDU_element', 9],
  ['mms.initiate_ErrorPDU_element', 10],
  ['mms.conclude_RequestPDU_element', 11],
  ['mms.conclude_ResponsePDU_element', 12],
  ['mms.conclude_ErrorPDU_element', 13],
];

/**
 * Confirmed services by their ConfirmedServiceRequest/Response tag, unconfirmed ones at 0x100 + tag. A capture
 * that starts after the association was set up never shows tshark which presentation context is MMS; the
 * users table tells it what the missed connect would have (context 3 = MMS abstract syntax 1.0.9506.2.1, the
 * id IEC 61850 stacks use).
 */
const spec: OracleSpec = {
  protocol: 'mms',
  filter: 'mms',
  tsharkArgs: ['-o', 'uat:pres_context_list:"3","1.0.9506.2.1"'],
  fields: [
    'mms.confirmedServiceRequest',
    'mms.confirmedServiceResponse',
    'mms.unconfirmedService',
    ...PDU_ELEMENTS.map(([f]) => f),
  ],
  funcs: ([req, resp, unconfirmed, ...pdus]) => [
    ...numbers(req),
    ...numbers(resp),
    ...numbers(unconfirmed).map((n) => 0x100 + n),
    ...PDU_ELEMENTS.flatMap(([, tag], i) =>
      (pdus[i] ?? '')
        .split(',')
        .filter((v) => v !== '')
        .map(() => 0x200 + tag),
    ),
  ],
};
export default spec;
