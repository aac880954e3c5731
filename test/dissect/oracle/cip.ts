import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// cip.sc is the service code without the response bit.
const spec: OracleSpec = {
  protocol: 'cip',
  filter: 'cip.sc',
  fields: ['cip.sc'],
  funcs: ([v]) => numbers(v).map((x) => x & 0x7f),
};
export default spec;
