import type { OracleSpec } from './spec.js';
import { numbers } from './values.js';

/** Weir's code for the session messages (src/dissect/protocols/hartip-commands.ts SESSION_BASE). */
const SESSION_BASE = 0x10000;

// Pass-through messages: the HART command (tshark 4.0 reads it as one byte, as Weir does for all but command 31);
// session initiate, close and keep-alive: SESSION_BASE + message id. Error and NAK replies carry no function.
const spec: OracleSpec = {
  protocol: 'hartip',
  filter: 'hart_ip',
  fields: ['hart_ip.message_type', 'hart_ip.message_id', 'hart_ip.pt.command'],
  funcs: ([types, ids, commands]) => {
    const t = numbers(types),
      c = numbers(commands);
    const out: number[] = [];
    numbers(ids).forEach((id, i) => {
      if (t[i] === 3 || t[i] === 15) return;
      if (id === 3) {
        const cmd = c.shift();
        if (cmd !== undefined) out.push(cmd);
      } else if (id <= 2) out.push(SESSION_BASE + id);
    });
    return out;
  },
};
export default spec;
