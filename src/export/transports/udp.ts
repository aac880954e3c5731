import dgram from 'node:dgram';
import net from 'node:net';
import type { Link, Transport } from './transport.js';

/** Largest datagram sent; a longer message is cut (rsyslog's default limit is 8 KiB, RFC 5426 asks for 2 KiB). */
const MAX_DATAGRAM = 8192;

/**
 * Syslog over UDP (RFC 5426): one message per datagram, no framing. Nothing acknowledges a datagram, so "sent"
 * is all that can be known; use TCP or TLS where loss matters.
 */
export class UdpTransport implements Transport {
  readonly settles = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    readonly label: string,
  ) {}

  frame(message: string): Buffer {
    const b = Buffer.from(message, 'utf8');
    return b.length <= MAX_DATAGRAM ? b : b.subarray(0, MAX_DATAGRAM);
  }

  connect(): Promise<Link> {
    const socket = dgram.createSocket(net.isIPv6(this.host) ? 'udp6' : 'udp4');
    socket.on('error', () => undefined);
    const link: Link = {
      broken: null,
      write: async (chunks, accepted) => {
        for (const c of chunks)
          await new Promise<void>((resolve, reject) =>
            socket.send(c, this.port, this.host, (err) => (err ? reject(err) : resolve())),
          );
        accepted();
      },
      close: () => new Promise((resolve) => socket.close(() => resolve())),
    };
    return Promise.resolve(link);
  }
}
