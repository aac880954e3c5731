import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newMessage, type Message } from '../../src/dissect/message.js';
import { Inventory } from '../../src/discover/inventory.js';
import { mergeAsset } from '../../src/discover/merge.js';
import { discoverFiles, assetOf, plantCapture } from '../helpers/discover.js';

test('plant: the S7 PLC shows STOP after PLC_STOP, with the frame as the source', async () => {
  const snap = await discoverFiles(plantCapture);
  const plc = assetOf(snap, '10.77.0.22');
  assert.equal(plc.identity.plcMode, 'STOP');
  assert.match(plc.identitySources.plcMode ?? '', /s7comm:41 frame 106[67]/);
});

/** A message from `src` to `dst` at time `ts`, as a dissector would emit it. */
function msg(
  protocol: Message['protocol'],
  src: string,
  dst: string,
  ts: number,
  frame: number,
  over: Partial<Message>,
): Message {
  const m = newMessage(
    {
      frame,
      ts,
      transport: 'tcp',
      srcMac: '',
      dstMac: '',
      srcIp: src,
      dstIp: dst,
      srcPort: 40000,
      dstPort: 502,
    },
    protocol,
  );
  return Object.assign(m, over);
}

test('PLC mode: stop and start on any protocol set the mode; the newest fact wins; a refused stop changes nothing', () => {
  const inv = new Inventory();
  const plc = '10.0.0.21',
    ews = '10.0.0.30';
  inv.onMessage(
    msg('s7comm', plc, ews, 10, 1, { role: 'response', func: 4, identity: { plcMode: 'RUN' } }),
  );
  inv.onMessage(
    msg('modbus', ews, plc, 20, 2, { role: 'request', func: 90, subfunc: 0x41, write: true }),
  );
  let a = assetOf(inv.snapshot(), plc);
  assert.equal(a.identity.plcMode, 'STOP');
  assert.match(a.identitySources.plcMode!, /modbus:90 frame 2/);
  // A CIP Start later puts it back in RUN.
  inv.onMessage(msg('cip', ews, plc, 30, 3, { role: 'request', func: 0x06, write: true }));
  assert.equal(assetOf(inv.snapshot(), plc).identity.plcMode, 'RUN');
  // An error answering another request (another transaction) does not undo a stop.
  inv.onMessage(
    msg('s7comm', ews, plc, 35, 6, {
      role: 'request',
      func: 0x29,
      txId: 7,
      write: true,
      fields: { rosctr: 'JOB' },
    }),
  );
  inv.onMessage(
    msg('s7comm', plc, ews, 35.1, 7, { role: 'response', func: 0x04, txId: 8, exception: 0x8104 }),
  );
  assert.equal(assetOf(inv.snapshot(), plc).identity.plcMode, 'STOP');
  inv.onMessage(msg('cip', ews, plc, 36, 8, { role: 'request', func: 0x06, write: true }));
  // A DNP3 stop the device refuses leaves it in RUN.
  inv.onMessage(msg('dnp3', ews, plc, 40, 4, { role: 'request', func: 18, write: true }));
  inv.onMessage(msg('dnp3', plc, ews, 40.1, 5, { role: 'response', func: 129, exception: 4 }));
  a = assetOf(inv.snapshot(), plc);
  assert.equal(a.identity.plcMode, 'RUN', a.identitySources.plcMode);

  // Merging an older observation after a newer one keeps the newer mode.
  const newer = a,
    older = structuredClone(a);
  older.identity.plcMode = 'STOP';
  older.identitySources.plcMode = 's7comm:41 frame 1';
  older.identityTimes = { plcMode: 5 };
  const merged = mergeAsset(structuredClone(newer), older, {});
  assert.equal(merged.identity.plcMode, 'RUN');
  const later = structuredClone(older);
  later.identityTimes = { plcMode: 99 };
  assert.equal(mergeAsset(structuredClone(newer), later, {}).identity.plcMode, 'STOP');
});

test('PLC mode in a live store: a stop in one delta and its refusal in the next leave the stored mode as it was', () => {
  const inv = new Inventory();
  const plc = '10.0.0.21',
    ews = '10.0.0.30';
  inv.onMessage(
    msg('s7comm', plc, ews, 10, 1, { role: 'response', func: 4, identity: { plcMode: 'RUN' } }),
  );
  inv.onMessage(
    msg('s7comm', ews, plc, 20, 2, {
      role: 'request',
      func: 0x29,
      txId: 3,
      write: true,
      fields: { rosctr: 'JOB' },
    }),
  );
  const stored = assetOf(inv.takeDelta(), plc);
  assert.equal(stored.identity.plcMode, 'STOP');
  inv.onMessage(
    msg('s7comm', plc, ews, 20.1, 3, { role: 'response', func: 0x29, txId: 3, exception: 0x8500 }),
  );
  const merged = mergeAsset(stored, assetOf(inv.takeDelta(), plc), {});
  assert.equal(merged.identity.plcMode, 'RUN');
  assert.match(merged.identitySources.plcMode!, /refusal frame 3/);
});
