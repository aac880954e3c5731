// Processes for the gateway benchmark: a minimal Modbus/TCP server, a plain TCP relay, and a load client.
//   server HOST PORT | relay LISTEN_HOST LISTEN_PORT HOST PORT | client HOST PORT latency N | client HOST PORT throughput SECONDS CONNS
import net from 'node:net';

const [role, ...args] = process.argv.slice(2);

/** Answers every FC3 request with as many registers as asked (values = address), echoing MBAP ids. */
function server(host: string, port: number): void {
  net
    .createServer({ noDelay: true }, (s) => {
      let buf: Buffer = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        const out: Buffer[] = [];
        while (buf.length >= 12) {
          const len = buf.readUInt16BE(4) + 6;
          if (buf.length < len) break;
          const start = buf.readUInt16BE(8),
            count = Math.min(125, buf.readUInt16BE(10));
          const r = Buffer.alloc(9 + 2 * count);
          buf.copy(r, 0, 0, 4);
          r.writeUInt16BE(3 + 2 * count, 4);
          r[6] = buf[6]!;
          r[7] = 3;
          r[8] = 2 * count;
          for (let i = 0; i < count; i++) r.writeUInt16BE((start + i) & 0xffff, 9 + 2 * i);
          out.push(r);
          buf = buf.subarray(len);
        }
        if (out.length) s.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      });
      s.on('error', () => s.destroy());
    })
    .listen(port, host, () => process.stdout.write('ready\n'));
}

function relay(lhost: string, lport: number, host: string, port: number): void {
  net
    .createServer({ noDelay: true }, (c) => {
      const u = net.connect({ host, port, noDelay: true });
      c.pipe(u);
      u.pipe(c);
      const end = (): void => {
        c.destroy();
        u.destroy();
      };
      c.on('error', end);
      u.on('error', end);
      c.on('close', end);
      u.on('close', end);
    })
    .listen(lport, lhost, () => process.stdout.write('ready\n'));
}

function request(tx: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(tx & 0xffff, 0);
  b.writeUInt16BE(6, 4);
  b[6] = 1;
  b[7] = 3;
  b.writeUInt16BE(tx % 100, 8);
  b.writeUInt16BE(10, 10);
  return b;
}

/** One connection with one request outstanding; resolves each answer by its transaction id. */
function connection(
  host: string,
  port: number,
): Promise<{ send: (tx: number) => Promise<void>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true }, () => {
      let buf: Buffer = Buffer.alloc(0);
      let waiting: (() => void) | null = null;
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        while (buf.length >= 6 && buf.length >= buf.readUInt16BE(4) + 6) {
          buf = buf.subarray(buf.readUInt16BE(4) + 6);
          const w = waiting;
          waiting = null;
          w?.();
        }
      });
      resolve({
        send: (tx) =>
          new Promise<void>((r) => {
            waiting = r;
            s.write(request(tx));
          }),
        close: () => s.destroy(),
      });
    });
    s.on('error', reject);
  });
}

async function client(
  host: string,
  port: number,
  mode: string,
  n: number,
  conns: number,
): Promise<void> {
  if (mode === 'latency') {
    const c = await connection(host, port);
    for (let i = 0; i < 2000; i++) await c.send(i); // warm-up
    const us: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await c.send(i);
      us.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    c.close();
    us.sort((a, b) => a - b);
    const q = (p: number): number => us[Math.min(us.length - 1, Math.floor(p * us.length))]!;
    process.stdout.write(`${JSON.stringify({ p50: q(0.5), p99: q(0.99), max: us.at(-1) })}\n`);
    return;
  }
  const cs = await Promise.all(Array.from({ length: conns }, () => connection(host, port)));
  const until = Date.now() + n * 1000;
  let done = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    cs.map(async (c, k) => {
      let tx = k;
      while (Date.now() < until) {
        await c.send(tx++);
        done++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const c of cs) c.close();
  process.stdout.write(`${JSON.stringify({ tps: done / secs, transactions: done })}\n`);
}

if (role === 'server') server(args[0]!, Number(args[1]));
else if (role === 'relay') relay(args[0]!, Number(args[1]), args[2]!, Number(args[3]));
else if (role === 'client')
  client(args[0]!, Number(args[1]), args[2]!, Number(args[3]), Number(args[4] ?? 1)).then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
else throw new Error(`unknown role ${role}`);
