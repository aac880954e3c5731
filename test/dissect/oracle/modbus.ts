import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// tshark reports the function code without the exception bit in modbus.func_code.
const spec: OracleSpec = {
  protocol: 'modbus',
  filter: 'mbtcp',
  fields: ['modbus.func_code'],
  funcs: ([v]) => numbers(v).map((x) => x & 0x7f),
};
export default spec;
