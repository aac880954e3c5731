// Annotated byte vectors (test/dissect/vectors/*.vec, format in its README): hand-checked PDUs for the tricky
// cases — Modbus FC 23, a DNP3 fragment in several transport segments, an S7 job in several COTP TPDUs —
// dissected with one state per direction, as the reassembler and the gateway do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { messageJson } from '../../src/cli/commands/dissect.js';
import type { Message, PduContext } from '../../src/dissect/message.js';
import { protocolDescriptor } from '../../src/dissect/registry.js';
import { repoRoot } from '../helpers/paths.js';

const DIR = path.join(repoRoot, 'test', 'dissect', 'vectors');

type Step =
  | { pdu: Uint8Array; toServer: boolean; title: string; line: number }
  | { expect: Record<string, unknown> | null; line: number };

/** The steps of a vector file: PDUs (hex, comments dropped) and the messages expected after them. */
function parse(text: string): { dissector: string; steps: Step[] } {
  let dissector = '';
  const steps: Step[] = [];
  let hex: string[] | null = null;
  const flush = (): void => {
    const last = steps[steps.length - 1];
    if (hex !== null && last !== undefined && 'pdu' in last)
      last.pdu = Uint8Array.from(hex.join('').match(/../g) ?? [], (h) => parseInt(h, 16));
    hex = null;
  };
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    if (line.startsWith('dissector ')) dissector = line.slice('dissector '.length).trim();
    else if (line.startsWith('>') || line.startsWith('<')) {
      flush();
      steps.push({
        pdu: new Uint8Array(0),
        toServer: line[0] === '>',
        title: line.slice(1).trim(),
        line: i + 1,
      });
      hex = [];
    } else if (line.startsWith('expect ')) {
      flush();
      const body = line.slice('expect '.length).trim();
      steps.push({
        expect: body === 'nothing' ? null : (JSON.parse(body) as Record<string, unknown>),
        line: i + 1,
      });
    } else {
      assert.ok(hex !== null, `line ${i + 1}: bytes outside a PDU`);
      assert.match(line, /^([0-9a-f]{2}\s*)+$/i, `line ${i + 1}: not hex: ${line}`);
      hex.push(line.replace(/\s+/g, ''));
    }
  });
  flush();
  return { dissector, steps };
}

const ctx = (frame: number, toServer: boolean, port: number): PduContext => ({
  frame,
  ts: frame,
  transport: 'tcp',
  srcMac: '',
  dstMac: '',
  srcIp: toServer ? '10.9.0.1' : '10.9.0.2',
  dstIp: toServer ? '10.9.0.2' : '10.9.0.1',
  srcPort: toServer ? 40000 : port,
  dstPort: toServer ? port : 40000,
});

const files = readdirSync(DIR).filter((n) => n.endsWith('.vec'));

test('the vectors cover the tricky cases', () => {
  for (const f of [
    'dnp3-multi-fragment.vec',
    'modbus-fc23.vec',
    's7-fragmented.vec',
    'mms-write-segmented.vec',
  ])
    assert.ok(files.includes(f), `${f} is missing`);
});

for (const file of files) {
  test(`vector ${file}`, () => {
    const { dissector, steps } = parse(readFileSync(path.join(DIR, file), 'utf8'));
    const p = protocolDescriptor(dissector);
    const d = p?.stream;
    assert.ok(d !== undefined, `${file}: no stream dissector '${dissector}'`);
    const port = p!.ports.tcp[0]!;
    const states = [d.newState(), d.newState()];
    const pending: Message[] = [];
    let frame = 0;
    for (const s of steps) {
      if ('pdu' in s) {
        assert.equal(
          d.pduLength(s.pdu, 0, s.pdu.length),
          s.pdu.length,
          `${file}:${s.line} ${s.title}: framing`,
        );
        d.dissect(
          s.pdu,
          0,
          s.pdu.length,
          ctx(++frame, s.toServer, port),
          s.toServer,
          pending,
          states[s.toServer ? 0 : 1],
        );
        continue;
      }
      if (s.expect === null) {
        assert.deepEqual(
          pending.map(messageJson),
          [],
          `${file}:${s.line}: expected no message yet`,
        );
        continue;
      }
      const m = pending.shift();
      assert.ok(m !== undefined, `${file}:${s.line}: expected a message, none came`);
      const got = messageJson(m);
      for (const [k, v] of Object.entries(s.expect))
        assert.deepEqual(got[k], v, `${file}:${s.line}: ${k}`);
    }
    assert.deepEqual(pending.map(messageJson), [], `${file}: messages nobody expected`);
  });
}
