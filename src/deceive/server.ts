import net from 'node:net';
import dgram from 'node:dgram';
import type { DecoyService } from '../policy/decoy-model.js';
import type { DecoyIdentity } from './identity-model.js';
import { ModbusDecoy } from './modbus.js';
import { S7Decoy } from './s7.js';
import { EnipDecoy } from './enip.js';
import { BacnetDecoy } from './bacnet.js';
import { httpAnswer } from './http.js';

/** One touch of a decoy: who, which service, when. The detection itself comes from the traffic (decoy_contact). */
export interface DecoyContact {
  ts: number;
  decoy: string;
  src: string;
  srcPort: number;
  service: DecoyService;
  transport: 'tcp' | 'udp';
  port: number;
}

const MAX_CONNECTIONS = 64;
const IDLE_MS = 30_000;
const MAX_PENDING = 64 * 1024;

/** A stream responder: answers for what arrived, leftover bytes; null ends the connection. */
type Feed = (buf: Buffer) => { out: Buffer[]; rest: Buffer } | null;

function streamResponder(s: DecoyService, id: DecoyIdentity): Feed {
  switch (s) {
    case 'modbus': {
      const d = new ModbusDecoy(id);
      return (b) => d.feed(b);
    }
    case 's7comm': {
      const d = new S7Decoy(id);
      return (b) => d.feed(b);
    }
    case 'enip': {
      const d = new EnipDecoy(id);
      return (b) => d.feed(b);
    }
    case 'bacnet':
      return () => null;
    case 'http':
      return (b) => {
        const a = httpAnswer(id, b.toString('latin1'));
        return a === null
          ? { out: [], rest: b }
          : { out: [Buffer.from(a, 'latin1')], rest: Buffer.alloc(0) };
      };
  }
}

/**
 * Serve one decoy on its address: a TCP listener per stream service, UDP for EtherNet/IP and BACnet/IP.
 * Never crashes on input: a stream it cannot frame is closed, a datagram it cannot read is dropped.
 */
export async function serveDecoy(
  id: DecoyIdentity,
  onContact: (c: DecoyContact) => void,
): Promise<{ close(): Promise<void> }> {
  const closers: Array<() => Promise<void>> = [];
  const contact = (
    service: DecoyService,
    transport: 'tcp' | 'udp',
    port: number,
    src: string,
    srcPort: number,
  ): void =>
    onContact({ ts: Date.now() / 1000, decoy: id.ip, src, srcPort, service, transport, port });
  try {
    for (const s of id.services) {
      const port = id.ports[s]!;
      if (s !== 'bacnet') {
        const sockets = new Set<net.Socket>();
        const srv = net.createServer((sock) => {
          if (sockets.size >= MAX_CONNECTIONS) return sock.destroy();
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          contact(s, 'tcp', port, sock.remoteAddress ?? '', sock.remotePort ?? 0);
          const feed = streamResponder(s, id);
          let pending: Buffer = Buffer.alloc(0);
          sock.setTimeout(IDLE_MS, () => sock.destroy());
          sock.on('error', () => sock.destroy());
          sock.on('data', (d: Buffer) => {
            pending = pending.length ? Buffer.concat([pending, d]) : d;
            let r: ReturnType<Feed>;
            try {
              r = feed(pending);
            } catch {
              r = null;
            }
            if (r === null || r.rest.length > MAX_PENDING) return sock.destroy();
            pending = r.rest;
            for (const o of r.out) sock.write(o);
            if (s === 'http' && r.out.length) sock.end();
          });
        });
        await listen(srv, port, id.ip);
        closers.push(
          () =>
            new Promise((res) => {
              for (const c of sockets) c.destroy();
              srv.close(() => res());
            }),
        );
      }
      if (s === 'enip' || s === 'bacnet') {
        const d = s === 'enip' ? new EnipDecoy(id) : new BacnetDecoy(id);
        const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
        udp.on('error', () => undefined);
        udp.on('message', (msg, from) => {
          contact(s, 'udp', port, from.address, from.port);
          let a: Buffer | null = null;
          try {
            a = d.datagram(msg);
          } catch {
            a = null;
          }
          if (a !== null) udp.send(a, from.port, from.address);
        });
        await new Promise<void>((res, rej) => {
          udp.once('error', rej);
          udp.bind(port, id.ip, () => {
            udp.off('error', rej);
            res();
          });
        });
        closers.push(() => new Promise((res) => udp.close(() => res())));
      }
    }
  } catch (e) {
    await Promise.all(closers.map((c) => c()));
    throw e;
  }
  return { close: async () => void (await Promise.all(closers.map((c) => c()))) };
}

function listen(srv: net.Server, port: number, host: string): Promise<void> {
  return new Promise((res, rej) => {
    srv.once('error', rej);
    srv.listen({ port, host }, () => {
      srv.off('error', rej);
      res();
    });
  });
}
