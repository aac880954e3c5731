import type { Message } from '../message.js';

/**
 * DNP3 requests (IEEE 1815) that change what an outstation is or how it reports, rather than a process point:
 * restarts, application start/stop, unsolicited reporting switched on or off, its clock set, file operations.
 */
export type Dnp3OperationKind =
  | 'cold_restart'
  | 'warm_restart'
  | 'start_application'
  | 'stop_application'
  | 'initialise'
  | 'enable_unsolicited'
  | 'disable_unsolicited'
  | 'set_time'
  | 'file_operation';

export interface Dnp3Operation {
  kind: Dnp3OperationKind;
  what: string;
}

const BY_FUNCTION: Record<number, Dnp3Operation> = {
  13: { kind: 'cold_restart', what: 'cold-restarted the outstation' },
  14: { kind: 'warm_restart', what: 'warm-restarted the outstation' },
  15: { kind: 'initialise', what: 'initialised data to defaults' },
  16: { kind: 'initialise', what: 'initialised an application' },
  17: { kind: 'start_application', what: 'started an application' },
  18: { kind: 'stop_application', what: 'stopped an application' },
  20: { kind: 'enable_unsolicited', what: 'enabled unsolicited responses' },
  21: {
    kind: 'disable_unsolicited',
    what: 'disabled unsolicited responses (events stop being reported)',
  },
  25: { kind: 'file_operation', what: 'opened a file' },
  26: { kind: 'file_operation', what: 'closed a file' },
  27: { kind: 'file_operation', what: 'deleted a file' },
  28: { kind: 'file_operation', what: 'asked for file information' },
  29: { kind: 'file_operation', what: 'authenticated for file access' },
  30: { kind: 'file_operation', what: 'aborted a file transfer' },
};

/** False when dnp3Operation finds no operation in any request with this function code (READ, SELECT, OPERATE…). */
export function dnp3MayOperate(func: number): boolean {
  return BY_FUNCTION[func] !== undefined || func === 2;
}

/** The operation a DNP3 request performs, or undefined for reads, controls and process writes. */
export function dnp3Operation(m: Message): Dnp3Operation | undefined {
  if (m.protocol !== 'dnp3' || m.role !== 'request') return undefined;
  const op = BY_FUNCTION[m.func];
  if (op !== undefined) return op;
  if (m.func === 2 && m.targets !== null) {
    for (const t of m.targets) {
      // g50v1/v3: absolute time (a write sets the clock); g70: file transfer objects.
      if (t.space === 'g50v1' || t.space === 'g50v3')
        return { kind: 'set_time', what: "set the outstation's clock (write of g50 time)" };
      if (t.space.startsWith('g70v'))
        return { kind: 'file_operation', what: `wrote file transfer objects (${t.space})` };
    }
  }
  return undefined;
}
