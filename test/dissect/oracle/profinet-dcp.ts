import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

const spec: OracleSpec = {
  protocol: 'profinet_dcp',
  filter: 'pn_dcp',
  fields: ['pn_dcp.service_id'],
  funcs: ([v]) => numbers(v),
};
export default spec;
