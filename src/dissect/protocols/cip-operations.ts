import type { Message } from '../message.js';

/**
 * Engineering operations on a CIP device, worked out from the object model (class, service, attribute) and from
 * real Studio 5000 / ControlFLASH / BOOTP sessions (the OpenICS EIP captures). Generic CIP objects follow
 * Volume 1/2 of the specification; the Logix classes (0x68–0x7E, 0x8B, 0x8E, 0xA1, 0xAC) are Rockwell vendor
 * objects whose meaning comes from what the engineering tools send around each operation.
 */
export type CipOperationKind =
  | 'firmware_update'
  | 'program_download'
  | 'program_upload'
  | 'controller_lock'
  | 'controller_unlock'
  | 'mode_run'
  | 'mode_program'
  | 'device_reset'
  | 'set_time'
  | 'network_config';

export interface CipOperation {
  kind: CipOperationKind;
  /** What the request does, for an explanation: '… on the controller'. */
  what: string;
}

/** Get-type services: reading an object is no operation. */
const READS = new Set([0x01, 0x03, 0x0e, 0x11, 0x18, 0x55]);
/** Set_Attribute_All, Set_Attribute_List, Set_Attribute_Single, Set_Member. */
const SETS = new Set([0x02, 0x04, 0x10, 0x19]);

/** A Get-type service: cipOperation finds no operation in a request with it, whatever its class (read first). */
export function isCipRead(svc: number): boolean {
  return READS.has(svc);
}

/**
 * Logix program structure (task 0x68, program 0x69, routine/code 0x6A, symbol 0x6B, template 0x6C, and the
 * controller's data/memory objects 0x6D–0x7E, 0x72 and module configuration 0xA2/0xA3): a download creates,
 * deletes and fills these; an upload reads their code with vendor service 0x4F.
 */
const LOGIX_PROGRAM = new Set([
  0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x72, 0x77, 0x7e, 0xa2, 0xa3,
]);

/** Attributes of the TCP/IP Interface object (0xF5) a Set changes. */
const TCPIP_ATTR: Record<number, string> = {
  3: 'configuration control (static/BOOTP/DHCP)',
  5: 'IP address, mask and gateway',
  6: 'host name',
  8: 'multicast TTL',
  9: 'multicast configuration',
  10: 'address conflict detection',
  13: 'encapsulation inactivity timeout',
};
/** Attributes of the Ethernet Link object (0xF6). */
const LINK_ATTR: Record<number, string> = {
  6: 'interface control (speed/duplex)',
  9: 'admin state (port enable/disable)',
};

function num(v: unknown): number {
  return typeof v === 'number' ? v : -1;
}

/** The engineering operation a CIP request performs, or undefined for process traffic and reads. */
export function cipOperation(m: Message): CipOperation | undefined {
  if (m.protocol !== 'cip' || m.role === 'response') return undefined;
  const svc = m.func;
  const cls = num(m.fields?.class_id);
  const attr = num(m.fields?.attribute_id);
  const inst = num(m.fields?.instance_id);
  if (READS.has(svc)) return undefined;
  switch (cls) {
    case 0x01: // Identity
      if (svc === 0x05)
        return { kind: 'device_reset', what: 'reset the device (Identity object Reset)' };
      return undefined;
    case 0xa1: // Logix non-volatile storage: ControlFLASH writes firmware through it
      if (svc === 0x4b)
        return {
          kind: 'firmware_update',
          what: 'started a firmware update (NVS object 0xA1, service 0x4B)',
        };
      if (svc === 0x4d)
        return {
          kind: 'firmware_update',
          what: 'sent a firmware block (NVS object 0xA1, service 0x4D)',
        };
      return undefined;
    case 0x74: // Logix controller lock, reached through the controller object 0x8E
      if (svc === 0x4b)
        return {
          kind: 'controller_lock',
          what: 'locked the controller (class 0x74, service 0x4B)',
        };
      if (svc === 0x4c)
        return {
          kind: 'controller_unlock',
          what: 'unlocked the controller (class 0x74, service 0x4C)',
        };
      return undefined;
    case 0x8b: // Logix wall clock time
      if (SETS.has(svc))
        return { kind: 'set_time', what: 'set the controller date/time (wall clock 0x8B)' };
      return undefined;
    case 0x43: // CIP Time Sync
      if (SETS.has(svc))
        return { kind: 'set_time', what: 'changed the Time Sync (PTP) configuration' };
      return undefined;
    case 0xf5: // TCP/IP Interface
      if (SETS.has(svc) || svc === 0x0d)
        return {
          kind: 'network_config',
          what: `changed the TCP/IP interface${attr >= 0 ? ` ${TCPIP_ATTR[attr] ?? `attribute ${attr}`}` : ''}`,
        };
      return undefined;
    case 0xf6: // Ethernet Link
      if (SETS.has(svc) || svc === 0x4c)
        return {
          kind: 'network_config',
          what: `changed the Ethernet link${attr >= 0 ? ` ${LINK_ATTR[attr] ?? `attribute ${attr}`}` : ''}${svc === 0x4c ? ' (Get_and_Clear)' : ''}`,
        };
      return undefined;
    case 0xf4: // Port
    case 0x48: // QoS
      if (SETS.has(svc))
        return {
          kind: 'network_config',
          what: `changed the ${cls === 0xf4 ? 'port' : 'QoS'} object attribute ${attr}`,
        };
      return undefined;
  }
  // Start/Stop on the Logix controller object (0x8E) is the remote run/program switch; on any other
  // object they start or stop what that object runs.
  if (svc === 0x07)
    return {
      kind: 'mode_program',
      what:
        cls === 0x8e ? 'switched the controller to PROGRAM mode (remote stop)' : 'sent a CIP Stop',
    };
  if (svc === 0x06)
    return {
      kind: 'mode_run',
      what: cls === 0x8e ? 'switched the controller to RUN mode (remote run)' : 'sent a CIP Start',
    };
  if (LOGIX_PROGRAM.has(cls)) {
    if (svc === 0x08 || svc === 0x09 || svc === 0x50 || svc === 0x0d || svc === 0x4d)
      return {
        kind: 'program_download',
        what: `wrote program structure (class 0x${cls.toString(16)}, service 0x${svc.toString(16)})`,
      };
    if (svc === 0x05)
      return {
        kind: 'program_download',
        what: `cleared controller memory before a download (class 0x${cls.toString(16)} Reset)`,
      };
    if (SETS.has(svc) && inst !== 0)
      return {
        kind: 'program_download',
        what: `set program attributes (class 0x${cls.toString(16)})`,
      };
    if (svc === 0x4f && inst > 0)
      return {
        kind: 'program_upload',
        what: `read program code (class 0x${cls.toString(16)}, service 0x4F)`,
      };
  }
  if (svc === 0x05 && cls < 0) return { kind: 'device_reset', what: 'sent a CIP Reset' };
  return undefined;
}
