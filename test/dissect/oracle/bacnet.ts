import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// Weir reports unconfirmed services as 256 + service so they never collide with confirmed ones.
const spec: OracleSpec = {
  protocol: 'bacnet',
  filter: 'bacapp',
  fields: ['bacapp.confirmed_service', 'bacapp.unconfirmed_service'],
  funcs: ([c, u]) => [...numbers(c), ...numbers(u).map((x) => 256 + x)],
};
export default spec;
