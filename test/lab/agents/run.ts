// Lab agents: real Modbus (modbus-serial) and S7 (snap7) peers, one role per process, run inside a namespace.
// Usage: node run.js <role> [args]; roles: s7-server IP | hmi PLC SECONDS | historian PLC1 PLC2 SECONDS
//        | ews PLC1 PLC2 | ews-stop PLC2 | attacker-write PLC1 | reader PLC1 (one FC3 read, prints values)
//        | probe PLC1 OP... (reads/writes, one JSON result each) | poll PLC1 MS SECONDS (prints times of answers)
//        | s7probe PLC2 OP... (DB reads/writes, PLC stop) | raw HOST PORT HEX... (hostile bytes, see below)
//        | sink PORT... (a recording stand-in server) | flood-writes PLC N SECONDS (pipelined refused writes)
import { createRequire } from 'node:module';
import net from 'node:net';

const require = createRequire(import.meta.url);
// CommonJS packages without types: the lab only needs a few calls of each.
/* eslint-disable @typescript-eslint/no-explicit-any */
const ModbusRTU: any = require('modbus-serial');
const snap7: any = require('node-snap7');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function modbusClient(ip: string): Promise<any> {
  const c = new ModbusRTU();
  await c.connectTCP(ip, { port: 502 });
  c.setID(1);
  c.setTimeout(2000);
  return c;
}

function s7Client(ip: string): Promise<any> {
  const c = new snap7.S7Client();
  return new Promise((resolve, reject) =>
    c.ConnectTo(ip, 0, 2, (err: unknown) =>
      err ? reject(new Error(c.ErrorText(err))) : resolve(c),
    ),
  );
}

function s7<T>(c: any, fn: string, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) =>
    c[fn](...args, (err: unknown, data: T) =>
      err ? reject(new Error(`${fn}: ${c.ErrorText(err)}`)) : resolve(data),
    ),
  );
}

async function main(): Promise<void> {
  const [role, a, b, c] = process.argv.slice(2);
  switch (role) {
    case 's7-server': {
      const server = new snap7.S7Server();
      const db1 = Buffer.alloc(64);
      for (let i = 0; i < 64; i++) db1[i] = i;
      server.RegisterArea(server.srvAreaDB, 1, db1);
      server.StartTo(a);
      // snap7 serves from native threads: hold the server object (GC would stop it) and the event loop open.
      setInterval(() => server.ServerStatus?.(), 1 << 30);
      await new Promise(() => undefined);
      break;
    }
    case 'hmi': {
      // Operator station: fast polling of process values and coils, a setpoint now and then.
      const m = await modbusClient(a!);
      const until = Date.now() + Number(b) * 1000;
      let n = 0;
      while (Date.now() < until) {
        await m.readHoldingRegisters(0, 10);
        await m.readCoils(0, 16);
        if (++n % 25 === 0) await m.writeRegister(100, 20 + ((n / 25) % 3));
        await sleep(200);
      }
      m.close(() => undefined);
      break;
    }
    case 'historian': {
      const m = await modbusClient(a!);
      const s = await s7Client(b!);
      const until = Date.now() + Number(c) * 1000;
      while (Date.now() < until) {
        await m.readInputRegisters(0, 20);
        await s7(s, 'DBRead', 1, 0, 16);
        await sleep(1000);
      }
      m.close(() => undefined);
      s.Disconnect();
      break;
    }
    case 'ews': {
      // Engineering workstation: identify the PLCs, read their identity lists, adjust a recipe value.
      const m = await modbusClient(a!);
      await m.readDeviceIdentification(1, 0);
      await m.writeRegisters(110, [5, 6]);
      m.close(() => undefined);
      const s = await s7Client(b!);
      for (const [id, index] of [
        [0x0011, 0],
        [0x001c, 0],
        [0x0424, 0],
      ] as const) {
        try {
          await s7(s, 'ReadSZL', id, index);
        } catch (e) {
          console.error(String(e));
        }
      }
      await s7(s, 'DBRead', 1, 0, 32);
      await s7(s, 'DBWrite', 1, 40, 4, Buffer.from([1, 2, 3, 4]));
      s.Disconnect();
      break;
    }
    case 'ews-stop': {
      const s = await s7Client(a!);
      try {
        await s7(s, 'PlcStop');
      } catch (e) {
        console.error(String(e));
      }
      s.Disconnect();
      break;
    }
    case 'attacker-write': {
      // An unauthorised host writing where nobody writes: register 200 and a coil.
      const m = await modbusClient(a!);
      await m.writeRegister(200, 9999);
      await m.writeCoil(5, true);
      m.close(() => undefined);
      break;
    }
    case 'hmi-odd': {
      // The HMI doing what it never did: reading input registers, and a setpoint far outside its range.
      const m = await modbusClient(a!);
      await m.readInputRegisters(0, 4);
      await m.writeRegister(100, 999);
      m.close(() => undefined);
      break;
    }
    case 'flood': {
      // A runaway client: back-to-back reads for a couple of seconds.
      const m = await modbusClient(a!);
      const until = Date.now() + Number(b ?? 2) * 1000;
      while (Date.now() < until) await m.readHoldingRegisters(0, 10);
      m.close(() => undefined);
      break;
    }
    case 'reader': {
      const m = await modbusClient(a!);
      const r = await m.readHoldingRegisters(0, 3);
      console.log(JSON.stringify(r.data));
      m.close(() => undefined);
      break;
    }
    case 'probe': {
      // probe PLC OP...: each OP is read:ADDR:N, write:ADDR:VALUE or coils:ADDR:N; prints one JSON result per OP.
      const ops = process.argv.slice(4);
      let m: any;
      try {
        m = await modbusClient(a!);
      } catch (e) {
        console.log(JSON.stringify({ op: 'connect', ok: false, error: (e as Error).message }));
        break;
      }
      m.setTimeout(1500);
      for (const op of ops) {
        const [kind, x, y] = op.split(':');
        try {
          const r =
            kind === 'read'
              ? await m.readHoldingRegisters(Number(x), Number(y))
              : kind === 'coils'
                ? await m.readCoils(Number(x), Number(y))
                : await m.writeRegister(Number(x), Number(y));
          console.log(JSON.stringify({ op, ok: true, data: r.data ?? null }));
        } catch (e) {
          console.log(
            JSON.stringify({
              op,
              ok: false,
              error: (e as Error).message,
              modbusCode: (e as { modbusCode?: number }).modbusCode ?? null,
            }),
          );
        }
      }
      m.close(() => undefined);
      break;
    }
    case 's7probe': {
      // s7probe PLC OP...: read:DB:START:SIZE, write:DB:START:BYTE or stop; one JSON result per OP.
      let s: any;
      try {
        s = await s7Client(a!);
      } catch (e) {
        console.log(JSON.stringify({ op: 'connect', ok: false, error: (e as Error).message }));
        break;
      }
      s.SetParam?.(snap7.S7Client?.RecvTimeout ?? 3, 1500);
      for (const op of process.argv.slice(4)) {
        const [kind, x, y, z] = op.split(':');
        try {
          const r =
            kind === 'read'
              ? await s7<Buffer>(s, 'DBRead', Number(x), Number(y), Number(z))
              : kind === 'write'
                ? await s7(s, 'DBWrite', Number(x), Number(y), 1, Buffer.from([Number(z)]))
                : await s7(s, 'PlcStop');
          console.log(JSON.stringify({ op, ok: true, data: Buffer.isBuffer(r) ? [...r] : null }));
        } catch (e) {
          console.log(JSON.stringify({ op, ok: false, error: (e as Error).message }));
          break; // a dropped request leaves the S7 connection without its answer: stop here
        }
      }
      try {
        s.Disconnect();
      } catch {
        /* gone */
      }
      break;
    }
    case 'poll': {
      // poll PLC MS SECONDS: one FC3 read every MS ms; prints the time of each answered read.
      const m = await modbusClient(a!);
      m.setTimeout(200);
      const until = Date.now() + Number(c) * 1000;
      while (Date.now() < until) {
        try {
          await m.readHoldingRegisters(0, 2);
          process.stdout.write(`${Date.now()}\n`);
        } catch {
          /* cut off: keep trying */
        }
        await sleep(Number(b));
      }
      m.close(() => undefined);
      break;
    }
    case 'connect-poll': {
      // connect-poll PLC MS SECONDS: a new connection and one FC3 read every MS ms; prints "<ms> ok" or "<ms> fail".
      const until = Date.now() + Number(c) * 1000;
      while (Date.now() < until) {
        const ok = await new Promise<boolean>((resolve) => {
          const sock = net.connect({ host: a!, port: 502 });
          const t = setTimeout(() => {
            sock.destroy();
            resolve(false);
          }, 300);
          sock.on('error', () => {
            clearTimeout(t);
            resolve(false);
          });
          sock.on('connect', () => sock.write(Buffer.from([0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 1])));
          sock.on('data', (d: Buffer) => {
            clearTimeout(t);
            sock.destroy();
            resolve(d.length >= 9 && d[7] === 3);
          });
        });
        process.stdout.write(`${Date.now()} ${ok ? 'ok' : 'fail'}\n`);
        await sleep(Number(b));
      }
      break;
    }
    case 'raw': {
      // raw HOST PORT HEX...: send each hex chunk, wait for answers; prints {sent, answers (hex), closed}.
      const sock = net.connect({ host: a!, port: Number(b) });
      const answers: string[] = [];
      let closed = false;
      sock.on('data', (d: Buffer) => answers.push(d.toString('hex')));
      sock.on('close', () => {
        closed = true;
      });
      sock.on('error', () => {
        closed = true;
      });
      await new Promise<void>((resolve) => {
        sock.once('connect', () => resolve());
        sock.once('error', () => resolve());
      });
      let sent = 0;
      for (const hex of process.argv.slice(5)) {
        if (closed) break;
        sock.write(Buffer.from(hex, 'hex'));
        sent++;
        await sleep(300);
      }
      await sleep(300);
      console.log(JSON.stringify({ sent, answers, closed }));
      sock.destroy();
      break;
    }
    case 'sink': {
      // sink PORT...: a stand-in server where no real peer runs here (DNP3, EtherNet/IP): prints every byte it receives.
      for (const port of process.argv.slice(3)) {
        net
          .createServer((sock) => {
            sock.on('data', (d: Buffer) =>
              process.stdout.write(
                `${JSON.stringify({ port: Number(port), hex: d.toString('hex') })}\n`,
              ),
            );
            sock.on('error', () => undefined);
          })
          .listen(Number(port), '0.0.0.0');
      }
      await new Promise(() => undefined);
      break;
    }
    case 'flood-writes': {
      // flood-writes PLC N SECONDS: N FC6 writes (register 5) pipelined as fast as the socket takes them; prints answers seen.
      const sock = net.connect({ host: a!, port: 502 });
      let answers = 0,
        exceptions = 0,
        buf = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 8) {
          const len = 6 + buf.readUInt16BE(4);
          if (buf.length < len) break;
          answers++;
          if (buf[7]! & 0x80) exceptions++;
          buf = buf.subarray(len);
        }
      });
      sock.on('error', () => undefined);
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      const until = Date.now() + Number(c) * 1000;
      for (let i = 0; i < Number(b) && Date.now() < until; i++) {
        const req = Buffer.from([(i >> 8) & 255, i & 255, 0, 0, 0, 6, 1, 6, 0, 5, 0x27, 0x0f]);
        if (!sock.write(req))
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Math.max(0, until - Date.now()));
            sock.once('drain', () => {
              clearTimeout(t);
              resolve();
            });
          });
      }
      await sleep(1000);
      console.log(JSON.stringify({ answers, exceptions }));
      sock.destroy();
      break;
    }
    default:
      throw new Error(`unknown role ${role}`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
