import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

const spec: OracleSpec = {
  protocol: 'dnp3',
  filter: 'dnp3.al.func',
  fields: ['dnp3.al.func'],
  funcs: ([v]) => numbers(v),
};
export default spec;
