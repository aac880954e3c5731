import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// The numeric node id of each service body's encoding; tshark joins chunked services and shows the id at the final
// chunk, as Weir does. Encrypted bodies carry none in either.
const spec: OracleSpec = {
  protocol: 'opcua',
  filter: 'opcua.servicenodeid.numeric',
  fields: ['opcua.servicenodeid.numeric'],
  funcs: ([v]) => numbers(v),
};
export default spec;
