import type { Message } from '../dissect/message.js';

// Which requests stop or start a controller is each protocol's own knowledge (its descriptor's requestedMode).
export { requestedMode } from '../dissect/registry.js';
export type { RequestedMode } from '../dissect/protocol.js';

/** True when a response refuses what was asked (an exception or error status, a UMAS 0xFD answer included). */
export function refused(m: Message): boolean {
  return m.role === 'response' && m.exception !== -1;
}
