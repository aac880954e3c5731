// Processes for the gateway benchmark's per-protocol rows: an echo server (the gateway reads only what clients
// send, so what answers does not matter to its cost) and a latency client that opens a session of the protocol
// and then sends one allowed read at a time.
//   server HOST PORT... | client HOST PORT PROTOCOL N
import net from 'node:net';
import { connectRequest, cotpConnect, mmsExchanges } from '../test/fixtures-gen/mms-session.js';
import {
  clientStreams,
  dm,
  dWords,
  FINS,
  finsCommand,
  finsHello,
  OPCUA_FIXTURE,
  opcuaChunks,
  opcuaService,
  SLMP,
  slmp,
  UMAS,
  umas,
} from '../test/enforce/gateway-frames.js';

const [role, ...args] = process.argv.slice(2);

/** The session opening (answered before timing starts) and the read each protocol repeats. */
function protocolSession(protocol: string): { opening: Buffer[]; read: Buffer } {
  switch (protocol) {
    case 'opcua': {
      // The node-opcua recording: HEL, OPN and session set-up, then its first Read, again and again.
      const chunks = opcuaChunks(clientStreams(OPCUA_FIXTURE)[0]!);
      const read = chunks.findIndex((c) => opcuaService(c) === 631);
      return { opening: chunks.slice(0, read), read: chunks[read]! };
    }
    case 'umas':
      return { opening: [], read: Buffer.from(umas(1, UMAS.READ_ID)) };
    case 'fins':
      return { opening: [finsHello()], read: finsCommand(1, FINS.MEMORY_READ, dm(100, 10)) };
    case 'slmp':
      return { opening: [], read: slmp(SLMP.DEVICE_READ, 0, dWords(100, 10)) };
    case 'mms': {
      const reads = mmsExchanges().filter(([toServer]) => toServer);
      return { opening: [cotpConnect(0xe0), connectRequest()], read: reads[4]![1] };
    }
  }
  throw new Error(`no session for ${protocol}`);
}

function server(host: string, ports: number[]): void {
  let up = 0;
  for (const port of ports)
    net
      .createServer({ noDelay: true }, (s) => {
        s.on('data', (d: Buffer) => s.write(d));
        s.on('error', () => s.destroy());
      })
      .listen(port, host, () => {
        if (++up === ports.length) process.stdout.write('ready\n');
      });
}

/** One request at a time; each is done when as many bytes came back as were sent. Prints p50/p99 in µs. */
async function client(host: string, port: number, protocol: string, n: number): Promise<void> {
  const { opening, read } = protocolSession(protocol);
  const sock = net.connect({ host, port, noDelay: true });
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  let have = 0,
    want = 0,
    done: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    have += d.length;
    if (have >= want && done) {
      const f = done;
      done = null;
      f();
    }
  });
  sock.on('close', () => {
    process.stderr.write(`${protocol}: the connection was closed\n`);
    process.exit(1);
  });
  const send = (b: Buffer): Promise<void> =>
    new Promise((r) => {
      want += b.length;
      done = r;
      sock.write(b);
    });
  for (const b of opening) await send(b);
  const warm = Math.min(2000, n);
  const us: number[] = [];
  for (let i = 0; i < warm + n; i++) {
    const t0 = process.hrtime.bigint();
    await send(read);
    if (i >= warm) us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  us.sort((a, b) => a - b);
  const at = (q: number): number => us[Math.min(us.length - 1, Math.floor(q * us.length))]!;
  process.stdout.write(JSON.stringify({ p50: at(0.5), p99: at(0.99) }) + '\n');
  sock.removeAllListeners('close');
  sock.destroy();
}

if (role === 'server') server(args[0]!, args.slice(1).map(Number));
else if (role === 'client') await client(args[0]!, Number(args[1]), args[2]!, Number(args[3]));
