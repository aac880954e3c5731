import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

const spec: OracleSpec = {
  protocol: 'dhcp',
  filter: 'dhcp.option.dhcp',
  fields: ['dhcp.option.dhcp'],
  funcs: ([v]) => numbers(v),
};
export default spec;
