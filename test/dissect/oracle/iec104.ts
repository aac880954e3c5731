import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// I-format APDUs: the ASDU type identification (U/S frames carry no function code in Weir either).
const spec: OracleSpec = {
  protocol: 'iec104',
  filter: 'iec60870_asdu',
  fields: ['iec60870_asdu.typeid'],
  funcs: ([v]) => numbers(v),
};
export default spec;
