import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// Job/ack-data carry s7comm.param.func; userdata PDUs carry a function group (Weir's func for userdata).
const spec: OracleSpec = {
  protocol: 's7comm',
  filter: 's7comm',
  fields: ['s7comm.param.func', 's7comm.param.userdata.funcgroup'],
  funcs: ([f, g]) => [...numbers(f), ...numbers(g)],
};
export default spec;
