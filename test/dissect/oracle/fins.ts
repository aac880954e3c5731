import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// FINS command code (MRC << 8 | SRC) of every frame, request or response; FINS/TCP node-address frames carry none.
const spec: OracleSpec = {
  protocol: 'fins',
  filter: 'omron.command',
  fields: ['omron.command'],
  funcs: ([v]) => numbers(v),
};
export default spec;
