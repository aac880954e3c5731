import type { Message, ProtocolName } from './message.js';
import { STREAM_ANOMALIES } from './protocol.js';
import type {
  DatagramDissector,
  EngineeringOp,
  FunctionCategory,
  ProtocolDescriptor,
  RequestedMode,
  StreamDissector,
} from './protocol.js';
import type { LinkDissector } from './link-dissector.js';
import { modbusProtocol } from './protocols/modbus.js';
import { s7commProtocol, s7commPlusProtocol } from './protocols/s7comm.js';
import { dnp3Protocol } from './protocols/dnp3.js';
import { enipProtocol } from './protocols/enip.js';
import { cipProtocol } from './protocols/cip.js';
import { bacnetProtocol } from './protocols/bacnet.js';
import { iec104Protocol } from './protocols/iec104.js';
import { arpProtocol } from './protocols/arp.js';
import { dhcpProtocol } from './protocols/dhcp.js';
import { lldpProtocol } from './protocols/lldp.js';
import { cdpProtocol } from './protocols/cdp.js';
import { profinetDcpProtocol } from './protocols/profinet-dcp.js';
import { dnsProtocol } from './protocols/dns.js';
import { nbnsProtocol } from './protocols/nbns.js';
import { opcuaProtocol } from './protocols/opcua.js';
import { hartipProtocol } from './protocols/hartip.js';
import { finsProtocol } from './protocols/fins.js';
import { slmpProtocol } from './protocols/slmp.js';
import { mmsProtocol } from './protocols/mms.js';
import { gooseProtocol } from './protocols/goose.js';
import { profinetIoProtocol } from './protocols/profinet-io.js';
import { c37118Protocol } from './protocols/c37118.js';
import { svProtocol } from './protocols/sv.js';

/**
 * Every protocol Weir knows, one descriptor each (declared in its own file under protocols/). Everything else
 * about protocols — the pipeline's port and EtherType tables, policy names and ports, categories, engineering
 * operations, the service map, the gateway's framing — is derived here. Order fixes PROTOCOL_INDEX: industrial
 * protocols first, then identity ones, then those known by port only; append, never reorder.
 */
export const PROTOCOLS: readonly ProtocolDescriptor[] = [
  modbusProtocol,
  s7commProtocol,
  s7commPlusProtocol,
  dnp3Protocol,
  enipProtocol,
  cipProtocol,
  bacnetProtocol,
  iec104Protocol,
  arpProtocol,
  dhcpProtocol,
  lldpProtocol,
  cdpProtocol,
  profinetDcpProtocol,
  dnsProtocol,
  nbnsProtocol,
  opcuaProtocol,
  hartipProtocol,
  finsProtocol,
  slmpProtocol,
  mmsProtocol,
  gooseProtocol,
  profinetIoProtocol,
  c37118Protocol,
  svProtocol,
].map(withStreamAnomalies);

/** A stream protocol's kinds include those its reassembler reports (resynchronisation, foreign payload). */
function withStreamAnomalies(p: ProtocolDescriptor): ProtocolDescriptor {
  if (p.stream === undefined) return p;
  const extra = STREAM_ANOMALIES.filter((k) => !p.anomalies.includes(k));
  return extra.length === 0 ? p : { ...p, anomalies: [...p.anomalies, ...extra] };
}

const BY_NAME = new Map<string, ProtocolDescriptor>(PROTOCOLS.map((p) => [p.name, p]));

/** The descriptor of a protocol, or undefined when Weir does not know it. */
export function protocolDescriptor(name: string): ProtocolDescriptor | undefined {
  return BY_NAME.get(name);
}

// ---- Carriers: which dissector reads what on which port ----

/** A stream dissector bound to a TCP port, a datagram dissector to a UDP port, a link dissector to an EtherType. */
export interface Binding<D> {
  key: number;
  dissector: D;
}
export const streamBindings: readonly Binding<StreamDissector>[] = PROTOCOLS.flatMap((p) =>
  p.stream ? p.ports.tcp.map((key) => ({ key, dissector: p.stream! })) : [],
);
export const datagramBindings: readonly Binding<DatagramDissector>[] = PROTOCOLS.flatMap((p) =>
  p.datagram ? p.ports.udp.map((key) => ({ key, dissector: p.datagram! })) : [],
);
export const linkBindings: readonly Binding<LinkDissector>[] = sharedEtherTypes(
  PROTOCOLS.flatMap((p) =>
    p.link ? p.etherTypes.map((key) => ({ key, dissector: p.link! })) : [],
  ),
);

/**
 * Protocols that share an EtherType (PROFINET DCP and RT on 0x8892) each read the frame ids they own and pass
 * over the rest: one binding calls them in registry order.
 */
function sharedEtherTypes(all: Binding<LinkDissector>[]): Binding<LinkDissector>[] {
  const byKey = new Map<number, LinkDissector[]>();
  for (const b of all) byKey.set(b.key, [...(byKey.get(b.key) ?? []), b.dissector]);
  return [...byKey].map(([key, ds]) => ({
    key,
    dissector:
      ds.length === 1
        ? ds[0]!
        : {
            protocol: ds[0]!.protocol,
            dissect(b, off, len, ctx, out) {
              for (let i = 0; i < ds.length; i++) ds[i]!.dissect(b, off, len, ctx, out);
            },
          },
  }));
}
export const streamDissectors: readonly StreamDissector[] = PROTOCOLS.flatMap((p) =>
  p.stream ? [p.stream] : [],
);

/**
 * The stream dissector that frames a protocol's PDUs for the inline gateway (its own, or its carrier's for an
 * inner layer such as CIP), or undefined when the gateway cannot check it request by request.
 */
export function gatewayDissector(protocol: string): StreamDissector | undefined {
  const p = BY_NAME.get(protocol);
  if (p === undefined || p.category === undefined || p.gateway === false) return undefined;
  return p.stream ?? (p.carrier !== undefined ? BY_NAME.get(p.carrier)?.stream : undefined);
}

/** Protocols the inline gateway checks request by request. */
export const gatewayProtocols: readonly string[] = PROTOCOLS.filter(
  (p) => gatewayDissector(p.name) !== undefined,
).map((p) => p.name);

// ---- Kinds of protocol ----

export const industrialProtocols: readonly ProtocolName[] = PROTOCOLS.filter(
  (p) => p.industrial && (p.stream || p.datagram || p.link || p.carrier),
).map((p) => p.name as ProtocolName);
const INDUSTRIAL = new Set<string>(industrialProtocols);

/** Industrial protocols Weir dissects (not the identity protocols, not those known by port only). */
export function isIndustrial(protocol: string): boolean {
  return INDUSTRIAL.has(protocol);
}

/** Protocols that identify hosts (addresses, names) rather than carry process traffic. */
export const identityProtocols: ReadonlySet<string> = new Set(
  PROTOCOLS.filter((p) => !p.industrial).map((p) => p.name),
);

/** Protocols whose servers are outstations of a SCADA master (DNP3, IEC 104) rather than PLCs of an HMI. */
export function isOutstationProtocol(protocol: string): boolean {
  return BY_NAME.get(protocol)?.outstation === true;
}

/** Server transport and port of each industrial protocol a policy may name (used when a group names no ports). */
export const serverPorts: Readonly<Record<string, { transport: 'tcp' | 'udp'; ports: number[] }>> =
  Object.fromEntries(
    PROTOCOLS.filter((p) => p.industrial && p.serverPort !== null).map((p) => [
      p.name,
      { transport: p.serverPort!.transport, ports: [p.serverPort!.port] },
    ]),
  );

/** Names of the industrial protocols' ports for the service map, by transport. */
export function industrialServices(transport: 'tcp' | 'udp'): ReadonlyMap<number, string> {
  const out = new Map<number, string>();
  for (const p of PROTOCOLS) {
    if (!p.industrial || p.carrier !== undefined) continue;
    for (const port of p.ports[transport]) out.set(port, p.name);
    if (p.serverPort?.transport === transport) out.set(p.serverPort.port, p.name);
    for (const [port, name] of Object.entries(p.serviceNames?.[transport] ?? {}))
      out.set(Number(port), name);
  }
  return out;
}

/** Every service name the service map gives an industrial port (protocol names and names like 'enip-io'). */
export const industrialServiceNames: ReadonlySet<string> = new Set([
  ...industrialServices('tcp').values(),
  ...industrialServices('udp').values(),
]);

// ---- Numeric keys for hot paths ----

/** Small stable numbers per protocol, for numeric map keys on hot paths (0 = unknown). */
export const PROTOCOL_INDEX: Readonly<Record<string, number>> = Object.fromEntries(
  PROTOCOLS.map((p, i) => [p.name, i + 1]),
);
const INDUSTRIAL_BY_INDEX = PROTOCOLS.map((p) => INDUSTRIAL.has(p.name));

/** Whether a PROTOCOL_INDEX value is an industrial protocol's. */
export function isIndustrialIndex(index: number): boolean {
  return index > 0 && INDUSTRIAL_BY_INDEX[index - 1] === true;
}

/** Numeric key of (protocol, function code), unique across protocols. */
export function functionKeyNumber(protocol: string, func: number): number {
  return (PROTOCOL_INDEX[protocol] ?? 0) * 0x20000 + (func + 1);
}

// ---- Function names (policy vocabulary) ----

export function normalizeFunctionName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-\s]+/g, '_');
}

const NAME_OF = new Map<string, Map<number, string>>();
const CODE_OF = new Map<string, Map<string, number>>();
for (const p of PROTOCOLS) {
  const entries = Object.entries(p.functions);
  if (entries.length === 0) continue;
  NAME_OF.set(p.name, new Map(entries.map(([c, n]) => [Number(c), n])));
  CODE_OF.set(p.name, new Map(entries.map(([c, n]) => [normalizeFunctionName(n), Number(c)])));
}

/** Protocols whose function codes have names. */
export function namedProtocols(): string[] {
  return [...NAME_OF.keys()];
}

/** The code of a named function, or undefined when the protocol has no function of that name. */
export function functionCode(protocol: string, name: string): number | undefined {
  return CODE_OF.get(protocol)?.get(normalizeFunctionName(name));
}

/** The name of a function code (lowercase, policy style), or undefined when it has none. */
export function functionLabel(protocol: string, code: number): string | undefined {
  const n = NAME_OF.get(protocol)?.get(code);
  return n === undefined ? undefined : normalizeFunctionName(n);
}

// ---- Categories ----

const CATEGORIES = new Map<string, (m: Message) => FunctionCategory>();
for (const p of PROTOCOLS) if (p.category) CATEGORIES.set(p.name, p.category);

/** Category of a request; protocols without a classification fall back to the dissector's write flag. */
export function functionCategory(m: Message): FunctionCategory {
  const c = CATEGORIES.get(m.protocol);
  return c !== undefined ? c(m) : m.write ? 'write' : 'read';
}

/** Whether a protocol's file classifies its requests (the gateway refuses what it cannot classify). */
export function classifies(protocol: string): boolean {
  return CATEGORIES.has(protocol);
}

/** Category of a function code alone (no sub-function known), e.g. for checking a policy's function lists. */
export function functionCodeCategory(protocol: string, func: number): FunctionCategory {
  return functionCategory({
    protocol,
    func,
    subfunc: -1,
    role: 'request',
    fields: null,
    write: false,
  } as unknown as Message);
}

// ---- What the gateway cannot read, and finer function keys ----

const OPAQUE = new Map<string, (m: Message) => boolean>();
const SUB_KEY = new Map<string, (m: Message) => number>();
for (const p of PROTOCOLS) {
  if (p.opaque) OPAQUE.set(p.name, p.opaque);
  if (p.subFunctionKey) SUB_KEY.set(p.name, p.subFunctionKey);
}

/** Whether a request's content cannot be judged (see ProtocolDescriptor.opaque). */
export function isOpaque(m: Message): boolean {
  const f = OPAQUE.get(m.protocol);
  return f !== undefined && f(m);
}

/** The sub-function key a policy may list for a request (see ProtocolDescriptor.subFunctionKey), or -1. */
export function subFunctionKey(m: Message): number {
  const f = SUB_KEY.get(m.protocol);
  return f === undefined ? -1 : f(m);
}

// ---- Engineering operations ----

const OPS_BY_KEY = new Map<number, EngineeringOp>();
const CARRIES_OP = new Map<string, (m: Message) => boolean>();
for (const p of PROTOCOLS) {
  for (const [func, op] of Object.entries(p.operations))
    OPS_BY_KEY.set(functionKeyNumber(p.name, Number(func)), op);
  if (p.carriesOperation) CARRIES_OP.set(p.name, p.carriesOperation);
}

/** The engineering operation a request performs, if any; `key` is functionKeyNumber(m.protocol, m.func). */
export function operationOf(m: Message, key: number): EngineeringOp | undefined {
  const op = OPS_BY_KEY.get(key);
  if (op === undefined) return undefined;
  const carries = CARRIES_OP.get(m.protocol);
  return carries === undefined || carries(m) ? op : undefined;
}

/** The engineering operation of a function code, whatever PDU carries it (for counted functions on an edge). */
export function operationOfFunction(protocol: string, func: number): EngineeringOp | undefined {
  return OPS_BY_KEY.get(functionKeyNumber(protocol, func));
}

const MODES = new Map<string, (m: Message) => RequestedMode | null>();
for (const p of PROTOCOLS) if (p.requestedMode) MODES.set(p.name, p.requestedMode);

/** The mode a request puts its controller in, when it is a CPU stop or start; null for every other message. */
export function requestedMode(m: Message): RequestedMode | null {
  if (m.role !== 'request') return null;
  // Every request is asked this (the inventory's message handler): the last protocol's answer is kept, since
  // consecutive requests mostly share one.
  if (m.protocol !== lastModeProtocol) {
    lastModeProtocol = m.protocol;
    lastModeOf = MODES.get(m.protocol);
  }
  const f = lastModeOf;
  return f === undefined ? null : f(m);
}
let lastModeProtocol = '';
let lastModeOf: ((m: Message) => RequestedMode | null) | undefined;
