import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

// Frame type, except command frames, which Weir numbers 0x10 + CMD (c37118.ts).
const spec: OracleSpec = {
  protocol: 'c37118',
  filter: 'synphasor',
  fields: ['synphasor.frtype', 'synphasor.command'],
  funcs: ([t, c]) => {
    const types = numbers(t),
      cmds = numbers(c);
    return types.map((x) => (x === 4 ? 0x10 + (cmds.shift() ?? 0) : x));
  },
};
export default spec;
