import type { Message } from '../message.js';

/**
 * S7comm and S7comm-plus requests that program, start/stop or unlock a CPU. S7comm: JOB functions 0x1A–0x1F
 * (block download/upload), 0x28 (PI service, told apart by its name) and 0x29 (stop); userdata group 5
 * (security) subfunction 1 carries a password. S7comm-plus: the substreamed variable services carry block
 * bodies (TIA Portal upload and download).
 */
export type S7OperationKind =
  | 'download'
  | 'upload'
  | 'stop'
  | 'start'
  | 'copy_ram_to_rom'
  | 'compress_memory'
  | 'insert_block'
  | 'delete_block'
  | 'pi_service'
  | 'password'
  | 'set_clock';

export interface S7Operation {
  kind: S7OperationKind;
  what: string;
}

const JOB: Record<number, S7Operation> = {
  0x1a: { kind: 'download', what: 'started a program block download' },
  0x1b: { kind: 'download', what: 'downloaded a program block' },
  0x1c: { kind: 'download', what: 'ended a program block download' },
  0x1d: { kind: 'upload', what: 'started a program block upload' },
  0x1e: { kind: 'upload', what: 'uploaded a program block' },
  0x1f: { kind: 'upload', what: 'ended a program block upload' },
  0x29: { kind: 'stop', what: 'stopped the PLC CPU' },
};

/** PI services by name (the S7 PI service catalogue as tshark names them). */
const PI: Record<string, S7Operation> = {
  P_PROGRAM: { kind: 'start', what: 'started the PLC CPU (PI P_PROGRAM)' },
  _MODU: {
    kind: 'copy_ram_to_rom',
    what: 'copied RAM to ROM, making the loaded program permanent (PI _MODU)',
  },
  _GARB: { kind: 'compress_memory', what: 'compressed PLC memory (PI _GARB)' },
  _INSE: { kind: 'insert_block', what: 'activated a downloaded block (PI _INSE)' },
  _DELE: { kind: 'delete_block', what: 'deleted a block (PI _DELE)' },
};

function isJob(m: Message): boolean {
  const r = m.fields?.rosctr;
  return r === undefined || r === 1 || r === 'JOB';
}

function isUserdata(m: Message): boolean {
  const r = m.fields?.rosctr;
  return r === 7 || r === 'USERDATA';
}

export function s7Operation(m: Message): S7Operation | undefined {
  if (m.role === 'response') return undefined;
  if (m.protocol === 's7comm_plus') {
    if (m.func === 0x0586)
      return { kind: 'upload', what: 'read a block body (S7comm-plus GetVarSubstreamed)' };
    if (m.func === 0x0598)
      return { kind: 'download', what: 'wrote a block body (S7comm-plus SetVarSubstreamed)' };
    return undefined;
  }
  if (m.protocol !== 's7comm') return undefined;
  if (isUserdata(m)) {
    if (m.func === 5 && m.subfunc === 1)
      return { kind: 'password', what: 'submitted a PLC password (userdata security group)' };
    if (m.func === 7 && (m.subfunc === 2 || m.subfunc === 4))
      return { kind: 'set_clock', what: "set the CPU's clock (userdata time functions)" };
    return undefined;
  }
  if (!isJob(m)) return undefined;
  if (m.func === 0x28) {
    const name = typeof m.fields?.pi_service === 'string' ? m.fields.pi_service : '';
    return PI[name] ?? { kind: 'pi_service', what: `ran PI service ${name || '(unnamed)'}` };
  }
  return JOB[m.func];
}
