// The gateway's request-by-request judgement of OPC UA, Modbus UMAS, FINS/TCP, SLMP and MMS, and the attacks
// it has to survive, written first: a refused request is never forwarded; truncated PDUs, lying lengths, PDUs cut
// byte by byte or pipelined, and a refusal followed by allowed requests never switch inspection off; an OPC UA
// channel under Sign or SignAndEncrypt is refused unless its group allows secured channels. OPC UA traffic is the
// node-opcua recording (fixtures/opcua-session.pcap); the others are built from their manuals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modbus } from '../../src/dissect/protocols/modbus.js';
import { opcuaTcp } from '../../src/dissect/protocols/opcua.js';
import { finsTcp as finsStream } from '../../src/dissect/protocols/fins.js';
import { slmpTcp } from '../../src/dissect/protocols/slmp.js';
import { gatewayDissector } from '../../src/dissect/registry.js';
import type { StreamDissector } from '../../src/dissect/protocol.js';
import { parsePolicy } from '../../src/policy/load.js';
import { CompiledPolicy } from '../../src/policy/evaluate.js';
import { StreamInspector, type Action } from '../../src/enforce/gateway/inspector.js';
import { pduContext } from '../helpers/pdu-context.js';
import { dt, readVar } from '../fixtures-gen/s7-fragments.js';
import { connectRequest, cotpConnect, mmsExchanges } from '../fixtures-gen/mms-session.js';
import {
  clientStreams,
  dm,
  dWords,
  FINS,
  finsCommand,
  finsHello,
  finsTcp,
  OPCUA_FIXTURE,
  opcuaChunks,
  opcuaService,
  SLMP,
  slmp,
  UMAS,
  umas,
} from './gateway-frames.js';

const HMI = '10.0.0.10',
  EWS = '10.0.0.11';
const SERVERS = {
  opcua: ['10.0.0.21', 4840],
  modbus: ['10.0.0.22', 502],
  fins: ['10.0.0.23', 9600],
  slmp: ['10.0.0.24', 5007],
  s7comm: ['10.0.0.25', 102],
} as const;

export const PROTOCOLS_POLICY = `weir: policy/1
zones:
  - { name: sup, members: [${HMI}, ${EWS}], mode: monitor }
  - { name: ctl, members: [10.0.0.21, 10.0.0.22, 10.0.0.23, 10.0.0.24, 10.0.0.25], mode: enforce }
conduits: [{ name: c, from: sup, to: ctl }]
groups:
  - { name: hmi-opcua, conduit: c, clients: [${HMI}], servers: [10.0.0.21], protocol: opcua }
  - { name: ews-opcua, conduit: c, clients: [${EWS}], servers: [10.0.0.21], protocol: opcua, access: read-write,
      secured_channels: allow }
  - { name: hmi-umas, conduit: c, clients: [${HMI}], servers: [10.0.0.22], protocol: modbus,
      functions: [read_holding_registers, umas_read_id, umas_read_plc_info, umas_read_memory_block] }
  - { name: ews-umas, conduit: c, clients: [${EWS}], servers: [10.0.0.22], protocol: modbus, access: read-write,
      functions: [umas_read_id, umas_write_memory_block] }
  - { name: hmi-fins, conduit: c, clients: [${HMI}], servers: [10.0.0.23], protocol: fins, transport: tcp,
      addresses: { D: [0-199] } }
  - { name: hmi-slmp, conduit: c, clients: [${HMI}], servers: [10.0.0.24], protocol: slmp,
      functions: [read_cpu_model, device_read, device_write], access: read-write, addresses: { D: [100-199] } }
  - { name: hmi-mms, conduit: c, clients: [${HMI}], servers: [10.0.0.25], protocol: mms }
`;

const loaded = parsePolicy(PROTOCOLS_POLICY, 'p.yaml');
if (!loaded.ok) throw new Error(`test policy invalid: ${JSON.stringify(loaded.errors)}`);
const cp = new CompiledPolicy(loaded.policy);

function inspector(d: StreamDissector, client = HMI): StreamInspector {
  const [server, port] = SERVERS[d.protocol as keyof typeof SERVERS];
  return new StreamInspector(
    d,
    cp.rules(client, server, 'tcp', port),
    { ...pduContext(), srcIp: client, dstIp: server, srcPort: 40000, dstPort: port },
    { deny: 'exception', budgetMicros: 1e6 },
  );
}

/** Each action in short: forward, drop:<reason>, reply:<reason>, close:<reason>. */
const kinds = (acts: Action[]): string[] =>
  acts.map((a) => (a.kind === 'forward' ? 'forward' : `${a.kind}:${a.reason}`));
/** Every forwarded byte, in order: what the PLC would receive. */
const forwarded = (acts: Action[]): Buffer =>
  Buffer.concat(acts.flatMap((a) => (a.kind === 'forward' ? [a.bytes] : [])));
/** Push bytes one at a time (a PDU split across TCP segments at every offset). */
function byteByByte(ins: StreamInspector, b: Uint8Array): Action[] {
  const out: Action[] = [];
  for (let i = 0; i < b.length; i++) out.push(...ins.push(b.subarray(i, i + 1)));
  return out;
}

test('the gateway reads OPC UA, FINS, SLMP and MMS now; FINS and SLMP over TCP only', () => {
  assert.equal(gatewayDissector('opcua'), opcuaTcp);
  assert.equal(gatewayDissector('fins'), finsStream);
  assert.equal(gatewayDissector('slmp'), slmpTcp);
  assert.equal(gatewayDissector('mms')?.protocol, 's7comm');
});

// ---- OPC UA ----

// node-opcua asks for the endpoints on a None channel of its own before it opens a secured one.
const STREAMS = clientStreams(OPCUA_FIXTURE);
const NONE = opcuaChunks(STREAMS[0]!);
/** The SignAndEncrypt and the Sign sessions: the connections whose OPN names Basic256Sha256. */
const SECURED = STREAMS.filter((s) =>
  opcuaChunks(s).some(
    (c) => c.toString('latin1', 0, 3) === 'OPN' && c.includes(Buffer.from('#Basic256Sha256')),
  ),
);
const READ = NONE.find((c) => opcuaService(c) === 631)!;
const WRITE = NONE.find((c) => opcuaService(c) === 673)!;
const CALL = NONE.find((c) => opcuaService(c) === 712)!;

/** An HMI inspector that has seen the session's opening (HEL, OPN, endpoints, session) up to the first Read. */
const OPENING = NONE.slice(0, NONE.indexOf(READ));
function opened(): StreamInspector {
  const ins = inspector(opcuaTcp);
  for (const c of OPENING) assert.ok(ins.push(c).every((a) => a.kind === 'forward'));
  return ins;
}

test('OPC UA, read-only HMI on the recorded node-opcua session: every Write and Call refused (the connection closed), the rest passes', () => {
  let ins = inspector(opcuaTcp);
  const verdicts: string[] = [];
  for (const c of NONE) {
    const acts = ins.push(c);
    const v = acts.length === 0 ? 'held' : kinds(acts).join(',');
    verdicts.push(v);
    // A refusal ends the connection (OPC UA cannot lose a numbered chunk): the client comes back on a new one.
    if (v.startsWith('close')) ins = opened();
  }
  const byService = new Map<string, Set<string>>();
  NONE.forEach((c, i) => {
    const k = `${c.toString('latin1', 0, 4)}${opcuaService(c) >= 0 ? ':' + opcuaService(c) : ''}`;
    byService.set(k, (byService.get(k) ?? new Set()).add(verdicts[i]!));
  });
  assert.deepEqual([...byService.get('MSGF:673')!], ['close:write_not_allowed']);
  assert.deepEqual([...byService.get('MSGF:712')!], ['close:write_not_allowed']);
  // The long recipe Write travels in intermediate chunks: held, then refused whole with its final chunk.
  assert.deepEqual([...byService.get('MSGC:673')!], ['held']);
  for (const [k, v] of byService)
    if (!k.endsWith(':673') && !k.endsWith(':712'))
      assert.ok(
        [...v].every((x) => x === 'forward' || x === 'held' || x === 'close:write_not_allowed'),
        `${k}: ${[...v]}`,
      );
  assert.equal(verdicts.filter((v) => v.startsWith('close')).length, 3, verdicts.join(' '));
  assert.ok(verdicts.filter((v) => v === 'forward').length > 10);
  assert.equal(ins.events.filter((e) => e.kind === 'fail_open').length, 0);
});

test('OPC UA attacks: a Write cut byte by byte, pipelined behind reads, behind a lying length, truncated', () => {
  // Cut at every byte: nothing of the Write reaches the server, nor anything after it on that connection.
  let ins = opened();
  let acts = byteByByte(ins, Buffer.concat([READ, WRITE, READ]));
  assert.deepEqual(kinds(acts), ['forward', 'close:write_not_allowed']);
  assert.deepEqual(forwarded(acts), READ);
  assert.deepEqual(ins.push(READ), [], 'nothing passes a closed connection');
  // Pipelined in one segment: read, write, call, read — the read before passes, nothing after the Write.
  ins = opened();
  acts = ins.push(Buffer.concat([READ, WRITE, CALL, READ]));
  assert.deepEqual(kinds(acts), ['forward', 'close:write_not_allowed']);
  assert.deepEqual(forwarded(acts), READ);
  const denied = ins.events.filter((e) => e.kind === 'denied');
  assert.deepEqual(
    denied.map((e) => [e.message?.funcName, e.reason]),
    [['WriteRequest', 'write_not_allowed']],
  );
  // A Read whose size claims the Write behind it: the server reads one Read with trailing bytes; so does the
  // gateway, which judges the service the body starts with and holds nothing back.
  ins = opened();
  const liar = Buffer.from(READ);
  liar.writeUInt32LE(READ.length + WRITE.length, 4);
  acts = ins.push(Buffer.concat([liar, WRITE]));
  assert.equal(acts.length, 1);
  assert.deepEqual(kinds(ins.push(WRITE)), ['close:write_not_allowed']);
  // A Write whose size claims the Read behind it: nothing of either passes.
  ins = opened();
  const wliar = Buffer.from(WRITE);
  wliar.writeUInt32LE(WRITE.length + READ.length, 4);
  acts = ins.push(Buffer.concat([wliar, READ]));
  assert.equal(forwarded(acts).length, 0, kinds(acts).join());
  // A MSG shorter than its own header, or a size below 8: the connection ends.
  ins = opened();
  const short = Buffer.from(WRITE.subarray(0, 20));
  short.writeUInt32LE(20, 4);
  assert.deepEqual(kinds(ins.push(short)), ['close:malformed_pdu']);
  ins = opened();
  const tiny = Buffer.from(WRITE.subarray(0, 8));
  tiny.writeUInt32LE(4, 4);
  assert.deepEqual(kinds(ins.push(tiny)), ['close:bytes that are not opcua']);
  // A Write with its body cut short (size adjusted): not forwarded.
  ins = opened();
  const cut = Buffer.from(WRITE.subarray(0, 40));
  cut.writeUInt32LE(40, 4);
  acts = ins.push(cut);
  assert.equal(forwarded(acts).length, 0, kinds(acts).join());
  // A service before any OPN (no channel opened) whose body reads as nothing: not passed.
  const noChannel = inspector(opcuaTcp);
  const noise = Buffer.from(READ);
  noise.fill(0x5a, 24);
  assert.deepEqual(kinds(noChannel.push(noise)), ['close:secured_channel']);
});

test('OPC UA: a fault of the inspection itself lets the chunk through and says so (fail open, loudly)', () => {
  const ins = new StreamInspector(
    opcuaTcp,
    cp.rules(HMI, '10.0.0.21', 'tcp', 4840),
    { ...pduContext(), srcIp: HMI, dstIp: '10.0.0.21', srcPort: 40000, dstPort: 4840 },
    {
      deny: 'drop',
      budgetMicros: 1e6,
      fault: () => {
        throw new Error('injected');
      },
    },
  );
  assert.deepEqual(kinds(ins.push(WRITE)), ['forward']);
  assert.equal(ins.events[0]?.kind, 'fail_open');
  assert.match(ins.events[0]!.reason, /inspection failed: injected/);
});

test('OPC UA Sign and SignAndEncrypt channels: refused at their OPN by default, passed where the group allows them', () => {
  assert.equal(SECURED.length, 2);
  for (const stream of SECURED) {
    const chunks = opcuaChunks(stream);
    const opn = chunks.findIndex((c) => c.toString('latin1', 0, 3) === 'OPN');
    // The HMI's group says nothing of secured channels: the OPN naming Basic256Sha256 ends the connection.
    const hmi = inspector(opcuaTcp);
    const acts = chunks.flatMap((c) => hmi.push(c));
    assert.deepEqual(kinds(acts).slice(opn), ['close:secured_channel']);
    assert.equal(
      forwarded(acts).length,
      chunks.slice(0, opn).reduce((n, c) => n + c.length, 0),
    );
    const denied = hmi.events.find((e) => e.kind === 'denied')!;
    assert.equal(denied.reason, 'secured_channel');
    assert.equal(denied.message?.fields?.security_policy, 'Basic256Sha256');
    // The engineering station's group allows them: every chunk passes, none judged by function.
    const ews = inspector(opcuaTcp, EWS);
    const all = chunks.flatMap((c) => ews.push(c));
    assert.ok(all.every((a) => a.kind === 'forward'));
    assert.deepEqual(forwarded(all), stream);
  }
});

// ---- Modbus UMAS ----

test('UMAS: the UMAS function is the unit; listed reads pass, STOP/START/download are answered with an exception', () => {
  const ins = inspector(modbus);
  const acts = ins.push(
    Buffer.concat([
      umas(1, UMAS.READ_ID),
      umas(2, UMAS.STOP_PLC),
      umas(3, UMAS.READ_PLC_INFO),
      umas(4, UMAS.START_PLC),
      umas(5, UMAS.INITIALIZE_DOWNLOAD, [0x01, 0x00]),
      umas(6, UMAS.DOWNLOAD_BLOCK, [0x01, 0x00, 0x01, 0x00, 0xaa]),
      umas(7, UMAS.WRITE_MEMORY_BLOCK, [0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x02]),
      umas(8, UMAS.READ_MEMORY_BLOCK, [0x01, 0x00, 0x00, 0x00, 0x02, 0x00]),
    ]),
  );
  assert.deepEqual(kinds(acts), [
    'forward',
    'reply:function_not_allowed',
    'forward',
    'reply:function_not_allowed',
    'reply:function_not_allowed',
    'reply:function_not_allowed',
    'reply:function_not_allowed',
    'forward',
  ]);
  // The answer is Modbus's ILLEGAL FUNCTION for FC 90 (0xDA), on the request's transaction.
  const stop = acts[1] as Extract<Action, { kind: 'reply' }>;
  assert.deepEqual([...stop.bytes], [0, 2, 0, 0, 0, 3, 1, 0xda, 1]);
  // A read-write group listing one UMAS write allows that write and still refuses STOP.
  const ews = inspector(modbus, EWS);
  assert.deepEqual(
    kinds(
      ews.push(
        Buffer.concat([
          umas(1, UMAS.WRITE_MEMORY_BLOCK, [0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x02]),
          umas(2, UMAS.STOP_PLC),
        ]),
      ),
    ),
    ['forward', 'reply:function_not_allowed'],
  );
});

test('UMAS attacks: STOP cut byte by byte, a truncated FC 90, a lying MBAP length, refusals then reads', () => {
  let ins = inspector(modbus);
  let acts = byteByByte(ins, Buffer.concat([umas(1, UMAS.STOP_PLC), umas(2, UMAS.READ_ID)]));
  assert.deepEqual(kinds(acts), ['reply:function_not_allowed', 'forward']);
  assert.deepEqual(forwarded(acts), Buffer.from(umas(2, UMAS.READ_ID)));
  // Ten refused STOPs, then reads: each read still judged and passed, each STOP still refused.
  for (let i = 0; i < 10; i++)
    assert.deepEqual(kinds(ins.push(umas(10 + i, UMAS.STOP_PLC))), ['reply:function_not_allowed']);
  assert.deepEqual(kinds(ins.push(umas(30, UMAS.READ_ID))), ['forward']);
  // FC 90 without its UMAS function byte: no real client sends it.
  ins = inspector(modbus);
  assert.deepEqual(kinds(ins.push(Buffer.from([0, 1, 0, 0, 0, 3, 1, 90, 0]))), [
    'close:malformed_pdu',
  ]);
  // An MBAP length that claims a READ_ID of 2 bytes swallowing a STOP: judged as the server frames it.
  ins = inspector(modbus);
  const stop = umas(2, UMAS.STOP_PLC);
  const liar = Buffer.from(umas(1, UMAS.READ_ID));
  liar.writeUInt16BE(liar.length - 6 + stop.length, 4);
  acts = ins.push(Buffer.concat([liar, stop]));
  // The server reads one FC 90 PDU of READ_ID followed by junk data: READ_ID with data passes; the STOP inside
  // it is data of the READ_ID, never a request of its own. Nothing after it is skipped by the inspection.
  assert.deepEqual(kinds(acts), ['forward']);
  assert.deepEqual(kinds(ins.push(umas(3, UMAS.STOP_PLC))), ['reply:function_not_allowed']);
});

test('policy: a read-only group listing a UMAS control function is refused at load', () => {
  const r = parsePolicy(
    PROTOCOLS_POLICY.replace('umas_read_memory_block]', 'umas_read_memory_block, umas_stop_plc]'),
    'p.yaml',
  );
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.errors.some((e) => /umas_stop_plc is a control function/.test(e.message)));
  const s = parsePolicy(
    PROTOCOLS_POLICY.replace('protocol: mms }', 'protocol: mms, secured_channels: allow }'),
    'p.yaml',
  );
  assert.ok(!s.ok && s.errors.some((e) => /only OPC UA has secured channels/.test(e.message)));
});

// ---- FINS over TCP ----

test('FINS/TCP: node address handshake and reads pass; writes, RUN and STOP refused; out-of-range reads refused', () => {
  const ins = inspector(finsStream);
  const acts = ins.push(
    Buffer.concat([
      finsHello(),
      finsCommand(1, FINS.CONTROLLER_DATA_READ, [0]),
      finsCommand(2, FINS.MEMORY_READ, dm(100, 10)),
      finsCommand(3, FINS.MEMORY_WRITE, dm(100, 1, [1500])),
      finsCommand(4, FINS.STOP, [0xff, 0xff]),
      finsCommand(5, FINS.RUN, [0xff, 0xff, 0x04]),
      finsCommand(6, FINS.MEMORY_READ, dm(500, 1)),
      finsCommand(7, FINS.MEMORY_READ, dm(190, 10)),
    ]),
  );
  assert.deepEqual(kinds(acts), [
    'forward',
    'forward',
    'forward',
    'drop:write_not_allowed',
    'drop:write_not_allowed',
    'drop:write_not_allowed',
    'drop:address_not_allowed',
    'forward',
  ]);
});

test('FINS/TCP attacks: STOP cut byte by byte, a length below the header, a frame without a command, refusals then reads', () => {
  let ins = inspector(finsStream);
  ins.push(finsHello());
  const stop = finsCommand(1, FINS.STOP, [0xff, 0xff]);
  const read = finsCommand(2, FINS.MEMORY_READ, dm(0, 1));
  let acts = byteByByte(ins, Buffer.concat([stop, read]));
  assert.deepEqual(kinds(acts), ['drop:write_not_allowed', 'forward']);
  assert.deepEqual(forwarded(acts), read);
  for (let i = 0; i < 5; i++) ins.push(stop);
  assert.deepEqual(kinds(ins.push(read)), ['forward']);
  // A FINS/TCP length of 4 (below the command and error words): not FINS, the connection ends.
  ins = inspector(finsStream);
  const liar = Buffer.from(stop);
  liar.writeUInt32BE(4, 4);
  assert.deepEqual(kinds(ins.push(liar)), ['close:bytes that are not fins']);
  // A frame-send carrying only part of a FINS header.
  ins = inspector(finsStream);
  assert.deepEqual(kinds(ins.push(finsTcp(2, [0x80, 0, 2, 0, 1]))), ['close:malformed_pdu']);
  // A length that swallows the next frame: judged as the server frames it, the STOP inside is refused.
  ins = inspector(finsStream);
  const swallow = Buffer.from(stop);
  swallow.writeUInt32BE(stop.length - 8 + read.length, 4);
  acts = ins.push(Buffer.concat([swallow, read]));
  assert.deepEqual(kinds(acts), ['drop:write_not_allowed']);
});

// ---- SLMP ----

test('SLMP 3E: model and D100..199 reads and writes pass; remote STOP/RUN, other devices and other commands refused', () => {
  const ins = inspector(slmpTcp);
  const acts = ins.push(
    Buffer.concat([
      slmp(SLMP.READ_TYPE_NAME, 0),
      slmp(SLMP.DEVICE_READ, 0, dWords(100, 3)),
      slmp(SLMP.DEVICE_WRITE, 0, dWords(150, 1, [1500])),
      slmp(SLMP.REMOTE_STOP, 0, [1, 0]),
      slmp(SLMP.REMOTE_RUN, 0, [1, 0, 0, 0]),
      slmp(SLMP.DEVICE_WRITE, 0, dWords(300, 1, [1])),
    ]),
  );
  assert.deepEqual(kinds(acts), [
    'forward',
    'forward',
    'forward',
    'drop:function_not_allowed',
    'drop:function_not_allowed',
    'drop:address_not_allowed',
  ]);
});

test('SLMP attacks: STOP cut byte by byte, a data length that lies, truncated device address, refusals then reads', () => {
  let ins = inspector(slmpTcp);
  const stop = slmp(SLMP.REMOTE_STOP, 0, [1, 0]);
  const read = slmp(SLMP.DEVICE_READ, 0, dWords(100, 1));
  let acts = byteByByte(ins, Buffer.concat([stop, read]));
  assert.deepEqual(kinds(acts), ['drop:function_not_allowed', 'forward']);
  assert.deepEqual(forwarded(acts), read);
  for (let i = 0; i < 5; i++) ins.push(stop);
  assert.deepEqual(kinds(ins.push(read)), ['forward']);
  // A data length below the monitoring timer and command: the connection ends.
  ins = inspector(slmpTcp);
  const short = Buffer.from(read);
  short.writeUInt16LE(2, 7);
  acts = ins.push(short);
  assert.equal(forwarded(acts).length, 0);
  assert.match(kinds(acts)[0]!, /^close:/);
  // A device read whose address is cut.
  ins = inspector(slmpTcp);
  assert.deepEqual(kinds(ins.push(slmp(SLMP.DEVICE_READ, 0, [100, 0]))), ['close:malformed_pdu']);
  // A read whose length swallows a STOP: the server sees one read with trailing bytes.
  ins = inspector(slmpTcp);
  const swallow = Buffer.from(read);
  swallow.writeUInt16LE(read.length - 9 + stop.length, 7);
  acts = ins.push(Buffer.concat([swallow, stop]));
  assert.equal(acts.length, 1);
  assert.deepEqual(kinds(ins.push(stop)), ['drop:function_not_allowed']);
});

// ---- MMS on port 102 ----

test('MMS on port 102: association, identify, getNameList and reads pass; the breaker write and file services refused; S7 refused on an MMS conduit', () => {
  const ins = inspector(gatewayDissector('mms')!);
  const client = mmsExchanges()
    .filter(([toServer]) => toServer)
    .map(([, b]) => b);
  const acts = ins.push(Buffer.concat([cotpConnect(0xe0), connectRequest(), ...client]));
  const k = kinds(acts);
  // COTP CR and initiate, identify, getNameList ×2, getVariableAccessAttributes, read, write (operate), then
  // fileOpen, fileRead, fileClose, fileDelete (file transfer is program work for MMS), conclude.
  assert.deepEqual(k, [
    'forward',
    'forward',
    'forward',
    'forward',
    'forward',
    'forward',
    'forward',
    'drop:write_not_allowed',
    'drop:write_not_allowed',
    'drop:write_not_allowed',
    'drop:write_not_allowed',
    'drop:write_not_allowed',
    'forward',
  ]);
  // S7comm on the same port and conduit: not MMS, refused; MMS after it still judged.
  assert.deepEqual(kinds(ins.push(dt(readVar(9)))), ['drop:protocol_not_allowed']);
  assert.deepEqual(kinds(ins.push(client[4]!)), ['forward']);
  // The operate cut byte by byte.
  const op = client.find((b) => b.includes(Buffer.from('CSWI1$CO$Pos$Oper')))!;
  const cut = byteByByte(ins, Buffer.concat([op, client[4]!]));
  assert.deepEqual(kinds(cut), ['drop:write_not_allowed', 'forward']);
});
