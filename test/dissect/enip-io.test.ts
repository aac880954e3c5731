// EtherNet/IP implicit I/O (issue 17): the Forward_Open's connection ids and RPIs, the class 1 datagrams' CPF
// (Sequenced Address and Connected Data items), checked field by field against tshark, and each datagram tied to
// the connection that the Forward_Open set up; a datagram on an id nobody opened is counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readCaptureSync } from '../../src/capture/source.js';
import { DissectPipeline } from '../../src/dissect/pipeline.js';
import { enipProtocol as enip } from '../../src/dissect/protocols/enip.js';
import type { Message } from '../../src/dissect/message.js';
import { IoConnections } from '../../src/discover/io-connections.js';
import {
  enipIoSession,
  ioDatagram,
  ADAPTER,
  SCANNER,
  OT_ID,
  TO_ID,
  OT_RPI,
  TO_RPI,
  UNKNOWN_ID,
} from '../fixtures-gen/enip-io.js';
import { pduContext } from '../helpers/pdu-context.js';

function tshark(file: string, filter: string, fields: string[]): string[][] {
  return execFileSync(
    'tshark',
    ['-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .map((l) => l.split('\t'));
}

test('Forward_Open ids and RPIs and class 1 CPF items agree with tshark; datagrams carry their connection', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-enip-io-'));
  try {
    const file = path.join(dir, 'enip-io.pcap');
    writeFileSync(file, enipIoSession());
    const ms: Message[] = [];
    const io = new IoConnections();
    const tied: Array<ReturnType<IoConnections['onMessage']>> = [];
    const p = new DissectPipeline({
      onMessage: (m) => {
        const c = io.onMessage(m);
        if (m.funcName === 'IO') tied.push(c === null || c === undefined ? c : { ...c });
        ms.push({ ...m, fields: m.fields === null ? null : { ...m.fields } });
      },
    });
    readCaptureSync(file, (f) => p.push(f));

    const fo = ms.filter((m) => m.protocol === 'cip' && m.funcName === 'FORWARD_OPEN');
    assert.equal(fo.length, 2);
    const [req, rep] = fo as [Message, Message];
    const ts = tshark(file, 'cip.service == 0x54 || cip.service == 0xd4', [
      'frame.number',
      'cip.cm.ot_connid',
      'cip.cm.to_connid',
      'cip.cm.otrpi',
      'cip.cm.torpi',
      'cip.cm.otapi',
      'cip.cm.toapi',
      'cip.cm.conn_serial_num',
    ]);
    assert.deepEqual(
      ts.map((r) => r[0]),
      ['6', '7'],
    );
    const n = (s: string | undefined) => Number(s);
    assert.equal(req.frame, 6);
    assert.equal(req.fields!.ot_connection_id, n(ts[0]![1]));
    assert.equal(req.fields!.to_connection_id, n(ts[0]![2]));
    assert.equal(req.fields!.ot_rpi_us, n(ts[0]![3]));
    assert.equal(req.fields!.to_rpi_us, n(ts[0]![4]));
    assert.equal(req.fields!.connection_serial, n(ts[0]![7]));
    assert.equal(req.fields!.transport_class, 1);
    assert.equal(rep.frame, 7);
    assert.equal(rep.fields!.ot_connection_id, n(ts[1]![1]));
    assert.equal(rep.fields!.to_connection_id, n(ts[1]![2]));
    assert.equal(rep.fields!.ot_api_us, n(ts[1]![5]));
    assert.equal(rep.fields!.to_api_us, n(ts[1]![6]));
    assert.equal(rep.fields!.ot_connection_id, OT_ID);
    assert.equal(rep.fields!.to_api_us, TO_RPI);

    // The I/O datagrams: tshark's Sequenced Address item per frame.
    const sai = tshark(file, 'enip.cpf.sai.connid', [
      'frame.number',
      'enip.cpf.sai.connid',
      'enip.cpf.sai.seq',
    ]);
    const ioMs = ms.filter((m) => m.funcName === 'IO');
    assert.deepEqual(
      ioMs.map((m) => [
        String(m.frame),
        String(m.fields!.connection_id),
        String(m.fields!.sequence),
      ]),
      sai.map((r) => [r[0], String(n(r[1])), r[2]]),
    );
    assert.equal(ioMs.length, 7);
    assert.deepEqual(ioMs[0]!.fields, {
      connection_id: OT_ID,
      sequence: 1,
      data_length: 10,
      cip_sequence: 1,
    });

    // Association: O→T datagrams from the scanner, T→O from the adapter, each with the granted interval.
    assert.equal(tied[0]!.direction, 'O->T');
    assert.equal(tied[0]!.rpiUs, OT_RPI);
    assert.equal(tied[0]!.producer, SCANNER.ip);
    assert.equal(tied[1]!.direction, 'T->O');
    assert.equal(tied[1]!.rpiUs, TO_RPI);
    assert.equal(tied[1]!.producer, ADAPTER.ip);
    assert.equal(tied[6], null, 'connection id nobody opened');
    assert.equal(io.unknown, 1);
    // Each direction once with its datagrams; the T→O one also as a group's datagrams would name it (none came).
    const all = io.connections();
    assert.equal(all.length, 3);
    const conns = all.filter((c) => c.packets > 0);
    assert.equal(conns.length, 2);
    for (const c of conns) {
      assert.equal(c.packets, 3);
      // The fixture sends a datagram every 10 ms, alternating directions: 20 ms between each direction's own.
      assert.ok(Math.abs(c.meanIntervalUs - 20_000) < 50, `${c.direction} ${c.meanIntervalUs}`);
    }
    assert.ok(ms.every((m) => m.anomaly === null));
    assert.equal(UNKNOWN_ID, ioMs[6]!.fields!.connection_id);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an I/O datagram whose Connected Data item overruns it is flagged, not a crash', () => {
  const good = ioDatagram(TO_ID, 9, [1, 2, 3, 4]);
  const cut = good.subarray(0, good.length - 2);
  const out: Message[] = [];
  const ctx = pduContext({ transport: 'udp', srcPort: 2222, dstPort: 2222 });
  enip.datagram!.dissect(cut, 0, cut.length, ctx, false, out);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.anomaly?.kind, 'io_item_overrun');
  assert.equal(out[0]!.fields!.connection_id, TO_ID);
  assert.equal(out[0]!.fields!.sequence, 9);
});
