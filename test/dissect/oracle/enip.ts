import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

const spec: OracleSpec = {
  protocol: 'enip',
  filter: 'enip.command',
  fields: ['enip.command'],
  funcs: ([v]) => numbers(v),
};
export default spec;
