import {
  unwalked,
  markMalformed,
  type IdentityFacts,
  type Malformed,
  type Message,
  type Target,
} from '../message.js';
import { UaReader, type ExtObj } from './opcua-binary.js';
import type { OpcuaAnomaly } from './opcua-anomalies.js';
import {
  CALL_REQUEST,
  CREATE_SESSION_REQUEST,
  GET_ENDPOINTS_RESPONSE,
  OPCUA_SERVICES,
  OPCUA_WRITES,
  OPEN_SECURE_CHANNEL_REQUEST,
  READ_REQUEST,
  READ_RESPONSE,
  SERVICE_FAULT,
  WRITE_REQUEST,
} from './opcua-services.js';

const malformed: Malformed<OpcuaAnomaly> = markMalformed;

/** Targets and values kept per message: a Read of thousands of nodes is summarised, not copied. */
const MAX_TARGETS = 32;
const MAX_VALUES = 64;
/** Between a Call's object and method in its address ('ns=2;s=Valve1|ns=2;s=Open'). */
export const CALL_SEPARATOR = '|';
/** Encoding ids of the structures that carry a server's build information (Part 5 §12.4, §12.10). */
const BUILD_INFO = 340;
const SERVER_STATUS = 864;
const SECURITY_MODES = ['Invalid', 'None', 'Sign', 'SignAndEncrypt'];
const APPLICATION_TYPES = ['server', 'client', 'client and server', 'discovery server'];

/** Name, role and write flag of a service by its encoding id. */
export function setService(m: Message, func: number, toServer?: boolean): void {
  m.func = func;
  const name = OPCUA_SERVICES[func];
  m.funcName = name ?? `SERVICE_${func}`;
  if (name !== undefined) m.role = name.endsWith('Request') ? 'request' : 'response';
  else if (toServer !== undefined) m.role = toServer ? 'request' : 'response';
  m.write = m.role === 'request' && OPCUA_WRITES.has(func);
}

/** Dissect a whole, readable service body: its TypeId, header and, for the services Weir reads, its fields. */
export function serviceBody(
  m: Message,
  d: Uint8Array,
  p: number,
  end: number,
  toServer: boolean,
  clipped = false,
): void {
  const r = new UaReader(d, p, end);
  r.nodeId();
  if (r.overrun || r.lastNumeric < 0 || r.lastNamespace !== 0) {
    malformed(
      m,
      'type_id_invalid',
      'the body does not start with a service encoding id (a chunk whose first chunk was missed, or not OPC UA)',
    );
    return;
  }
  const func = r.lastNumeric;
  setService(m, func, toServer);
  if (OPCUA_SERVICES[func] === undefined) return;
  if (m.role === 'request') {
    r.requestHeader();
    request(m, r, func);
  } else {
    const result = r.responseHeader();
    // A StatusCode's two top bits give its severity: 10 is Bad.
    if (result >>> 30 === 2) m.exception = result;
    if (func !== SERVICE_FAULT && result >>> 30 !== 2) response(m, r, func);
  }
  // A clipped service ends where Weir stopped keeping it, not where the sender ended it.
  if (r.overrun && !clipped) malformed(m, 'body_truncated', `${m.funcName} ends before its fields`);
}

function request(m: Message, r: UaReader, func: number): void {
  const f = m.fields!;
  switch (func) {
    case OPEN_SECURE_CHANNEL_REQUEST: {
      r.skip(4); // client protocol version
      f.request_type = r.u32() === 1 ? 'renew' : 'issue';
      f.security_mode = SECURITY_MODES[r.u32()] ?? 'Invalid';
      return;
    }
    case CREATE_SESSION_REQUEST: {
      const app = applicationDescription(r);
      if (r.overrun) return;
      f.client_application_uri = app.uri;
      f.client_product_uri = app.productUri;
      f.client_application_name = app.name;
      m.identity = { product: app.name, deviceType: `OPC UA ${app.type}`, about: 'src' };
      return;
    }
    case READ_REQUEST: {
      r.skip(8 + 4); // max age, timestamps to return
      const n = r.count(9);
      const targets: Target[] = [];
      let walked = 0; // nodes whose id and attribute were read whole
      for (let i = 0; i < n && !r.overrun; i++) {
        const node = r.nodeId();
        const exact = r.lastExact;
        const attribute = r.u32();
        if (!r.overrun && exact) walked++;
        r.skipBytes(); // index range
        r.qualifiedName(); // data encoding
        if (targets.length < MAX_TARGETS && exact)
          targets.push({ space: node, start: attribute, count: 1 });
      }
      f.nodes = n;
      if (walked < n || n > MAX_TARGETS) targets.push(unwalked());
      if (targets.length > 0) m.targets = targets;
      return;
    }
    case WRITE_REQUEST: {
      const n = r.count(10);
      const targets: Target[] = [];
      const values: number[] = [];
      let walked = 0;
      for (let i = 0; i < n && !r.overrun; i++) {
        const node = r.nodeId();
        const exact = r.lastExact;
        const attribute = r.u32();
        if (!r.overrun && exact) walked++;
        r.skipBytes();
        if (targets.length < MAX_TARGETS && exact)
          targets.push({ space: node, start: attribute, count: 1 });
        // A value cut off by the join limit ends the walk; the nodes after it were not read.
        if (!r.dataValue(values.length < MAX_VALUES ? values : null, null)) break;
      }
      f.nodes = n;
      if (walked < n || n > MAX_TARGETS) targets.push(unwalked());
      if (targets.length > 0) m.targets = targets;
      if (values.length > 0) m.values = values.slice(0, MAX_VALUES);
      return;
    }
    case CALL_REQUEST: {
      const n = r.count(6);
      const targets: Target[] = [];
      const values: number[] = [];
      let walked = 0;
      for (let i = 0; i < n && !r.overrun; i++) {
        const object = r.nodeId();
        const objectExact = r.lastExact;
        const method = r.nodeId();
        // A method declared on a type is called on any instance: the address is the pair, object first. An
        // object whose text holds the separator could be read as another pair, so it is not held to a list.
        const exact = objectExact && r.lastExact && !object.includes(CALL_SEPARATOR);
        if (!r.overrun && exact) walked++;
        if (i === 0) {
          f.object_id = object;
          f.method_id = method;
        }
        if (targets.length < MAX_TARGETS && exact)
          targets.push({ space: `${object}${CALL_SEPARATOR}${method}`, start: 0, count: 1 });
        let ok = true;
        for (let k = 0, a = r.count(1); k < a && ok; k++)
          ok = r.variant(values.length < MAX_VALUES ? values : null, null);
        if (!ok) break;
      }
      f.methods = n;
      if (walked < n || n > MAX_TARGETS) targets.push(unwalked());
      if (targets.length > 0) m.targets = targets;
      if (values.length > 0) m.values = values.slice(0, MAX_VALUES);
      return;
    }
  }
}

function response(m: Message, r: UaReader, func: number): void {
  const f = m.fields!;
  switch (func) {
    case GET_ENDPOINTS_RESPONSE: {
      const n = r.count(20);
      const policies = new Set<string>();
      const modes = new Set<string>();
      let server: ApplicationDescription | null = null;
      for (let i = 0; i < n && !r.overrun; i++) {
        r.skipBytes(); // endpoint URL
        const app = applicationDescription(r);
        server ??= app;
        r.skipBytes(); // server certificate
        modes.add(SECURITY_MODES[r.u32()] ?? 'Invalid');
        const policy = r.string();
        policies.add(policy.slice(policy.lastIndexOf('#') + 1));
        for (let k = 0, t = r.count(12); k < t && !r.overrun; k++) {
          r.skipBytes(); // policy id
          r.skip(4); // token type
          r.skipBytes(); // issued token type
          r.skipBytes(); // issuer endpoint URL
          r.skipBytes(); // security policy URI
        }
        r.skipBytes(); // transport profile URI
        r.skip(1); // security level
      }
      f.endpoints = n;
      if (policies.size > 0) f.security_policies = [...policies].join(',');
      if (modes.size > 0) f.security_modes = [...modes].join(',');
      if (server !== null && server.uri !== '') {
        f.application_uri = server.uri;
        f.product_uri = server.productUri;
        f.application_name = server.name;
        m.identity = { product: server.name, deviceType: `OPC UA ${server.type}`, about: 'src' };
      }
      return;
    }
    case READ_RESPONSE: {
      const n = r.count(1);
      const values: number[] = [];
      const objects: ExtObj[] = [];
      for (let i = 0; i < n && !r.overrun; i++)
        if (!r.dataValue(values.length < MAX_VALUES ? values : null, objects)) break;
      if (values.length > 0) m.values = values.slice(0, MAX_VALUES);
      for (const o of objects) {
        const id = buildInfo(r.b, o);
        if (id !== null) {
          m.identity = id;
          break;
        }
      }
      return;
    }
  }
}

interface ApplicationDescription {
  uri: string;
  productUri: string;
  name: string;
  type: string;
}

/** ApplicationDescription (Part 4 §7.1): who a server or client says it is. */
function applicationDescription(r: UaReader): ApplicationDescription {
  const uri = r.string();
  const productUri = r.string();
  const name = r.localizedText();
  const type = APPLICATION_TYPES[r.u32()] ?? 'application';
  r.skipBytes(); // gateway server URI
  r.skipBytes(); // discovery profile URI
  for (let i = 0, n = r.count(4); i < n && !r.overrun; i++) r.skipBytes();
  return { uri, productUri, name, type };
}

/** BuildInfo, alone or inside ServerStatus, read from a value: the server's maker, product and version. */
function buildInfo(b: Uint8Array, o: ExtObj): IdentityFacts | null {
  if (o.size === 0 || (o.type !== BUILD_INFO && o.type !== SERVER_STATUS)) return null;
  const r = new UaReader(b, o.body, o.body + o.size);
  if (o.type === SERVER_STATUS) r.skip(8 + 8 + 4); // start time, current time, state
  r.string(); // product URI
  const vendor = r.string();
  const model = r.string();
  const firmware = r.string();
  const build = r.string();
  if (r.overrun) return null;
  const id: IdentityFacts = { about: 'src' };
  if (vendor !== '') id.vendor = vendor;
  if (model !== '') id.model = model;
  if (firmware !== '') id.firmware = build !== '' ? `${firmware} (build ${build})` : firmware;
  return Object.keys(id).length > 1 ? id : null;
}
