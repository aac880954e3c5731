import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

const spec: OracleSpec = {
  protocol: 'arp',
  filter: 'arp',
  fields: ['arp.opcode'],
  funcs: ([v]) => numbers(v),
};
export default spec;
