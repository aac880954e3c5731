// Minimal FINS/TCP (9600), SLMP 3E (5007) and ISO-on-TCP MMS (102) servers for the gateway lab test: no FINS,
// SLMP or IEC 61850 server runs on this machine, so these stand in for the PLC and the IED. Each frames its
// protocol by its own length field (not by Weir's dissectors), prints every request it receives as
// "<protocol> <hex>" on stdout — what reached the device — and answers the way the device would, briefly.
//
//   node gateway-responder.js <listen address>
import net from 'node:net';
import { connectAccept, cotpConnect } from '../fixtures-gen/mms-session.js';

const host = process.argv[2] ?? '127.0.0.1';

type Framer = (b: Buffer) => number;
type Answer = (req: Buffer) => Buffer | null;

function serve(name: string, port: number, frame: Framer, answer: Answer): Promise<void> {
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => sock.destroy());
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const n = buf.length >= 16 ? frame(buf) : 0;
        if (n < 0) {
          console.log(`${name} unframeable ${buf.toString('hex')}`);
          sock.destroy();
          return;
        }
        if (n === 0 || buf.length < n) break;
        const req = buf.subarray(0, n);
        buf = buf.subarray(n);
        console.log(`${name} ${req.toString('hex')}`);
        const a = answer(req);
        if (a !== null) sock.write(a);
      }
    });
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve()));
}

// FINS/TCP: 'FINS', length, command, error. Node address request (0) → node address response (1); a FINS frame
// (2) → the same command answered with end code 0 (and zero words for a memory read).
const finsFrame: Framer = (b) =>
  b.toString('latin1', 0, 4) !== 'FINS' ? -1 : 8 + b.readUInt32BE(4);
function finsAnswer(req: Buffer): Buffer {
  const command = req.readUInt32BE(8);
  const head = (cmd: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(16);
    h.write('FINS', 0, 'latin1');
    h.writeUInt32BE(8 + body.length, 4);
    h.writeUInt32BE(cmd, 8);
    return Buffer.concat([h, body]);
  };
  if (command === 0) return head(1, Buffer.from([0, 0, 0, 10, 0, 0, 0, 1]));
  const f = req.subarray(16);
  const words = f.readUInt16BE(10) === 0x0101 && f.length >= 18 ? f.readUInt16BE(16) : 0;
  const resp = Buffer.concat([
    Buffer.from([
      0xc0,
      0,
      2,
      f[6]!,
      f[7]!,
      f[8]!,
      f[3]!,
      f[4]!,
      f[5]!,
      f[9]!,
      f[10]!,
      f[11]!,
      0,
      0,
    ]),
    Buffer.alloc(words * 2),
  ]);
  return head(2, resp);
}

// SLMP 3E binary: subheader 50 00, routing, data length at 7; answered D0 00, routing, end code 0.
const slmpFrame: Framer = (b) => (b.readUInt16LE(0) !== 0x0050 ? -1 : 9 + b.readUInt16LE(7));
const slmpAnswer = (req: Buffer): Buffer =>
  Buffer.concat([Buffer.from([0xd0, 0x00]), req.subarray(2, 7), Buffer.from([2, 0, 0, 0])]);

// ISO-on-TCP: TPKT length at 2. COTP CR → CC; the session connect → the accept; other requests get a short
// session data unit back (the test client does not read MMS answers, it only needs to be answered).
const tpktFrame: Framer = (b) => (b[0] !== 3 ? -1 : b.readUInt16BE(2));
function mmsAnswer(req: Buffer): Buffer {
  if (req[5] === 0xe0) return cotpConnect(0xd0);
  if (req[7] === 0x0d) return connectAccept();
  return Buffer.from([3, 0, 0, 9, 2, 0xf0, 0x80, 0x01, 0x00]);
}

await serve('fins', 9600, finsFrame, finsAnswer);
await serve('slmp', 5007, slmpFrame, slmpAnswer);
await serve('mms', 102, tpktFrame, mmsAnswer);
console.log('ready');
