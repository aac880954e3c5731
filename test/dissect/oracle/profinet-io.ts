import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// Context management calls: the DCE/RPC opnum of PNIO requests and responses (tshark's pn_io).
const spec: OracleSpec = {
  protocol: 'profinet_io',
  filter:
    '(pn_io_device || pn_io_controller || pn_io_supervisor || pn_io_parameterserver) && (dcerpc.pkt_type == 0 || dcerpc.pkt_type == 2)',
  fields: ['dcerpc.opnum'],
  funcs: ([v]) => numbers(v),
};
export default spec;
