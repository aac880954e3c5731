import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { octetCounted } from '../syslog.js';
import { FatalExportError, type Link, type Transport } from './transport.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** Certificate checks whose failure means "this is not the receiver you named": never retried. */
const VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

/** A TCP or TLS socket as a Link: any error, reset or close by the receiver marks it broken. */
class SocketLink implements Link {
  broken: string | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.setKeepAlive(true, 10_000);
    socket.setNoDelay(true);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.broken ??= `${err.code ?? 'error'}: ${err.message}`;
    });
    // A syslog receiver never speaks: any end of its side means it closed (or restarted).
    socket.on('end', () => {
      this.broken ??= 'closed by the receiver';
      socket.end();
    });
    socket.on('close', () => {
      this.broken ??= 'connection closed';
    });
    socket.on('data', () => undefined);
  }

  write(chunks: readonly Buffer[], accepted: () => void): Promise<void> {
    if (this.broken !== null) return Promise.reject(new Error(this.broken));
    const buf = Buffer.concat(chunks);
    return new Promise((resolve, reject) => {
      let told = false;
      const tell = (): void => {
        if (!told) {
          told = true;
          accepted();
        }
      };
      this.socket.write(buf, (err) => {
        if (err) {
          this.broken ??= err.message;
          reject(err);
        } else if (this.broken !== null) reject(new Error(this.broken));
        else {
          tell();
          resolve();
        }
      });
      // Node hands a write to the kernel at once when the socket buffer has room: nothing of it is left in this
      // process, so it is sent whatever happens to Weir now. Saying so here rather than in the callback (an
      // event-loop turn later) leaves a kill -9 almost no moment in which the bytes are out but not recorded.
      if (this.broken === null && !this.socket.destroyed && this.socket.writableLength === 0)
        tell();
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }
}

/** Syslog over TCP (RFC 6587) or TLS (RFC 5425), octet-counted. */
export class StreamTransport implements Transport {
  readonly settles = true;
  private readonly ca: Buffer | undefined;

  constructor(
    private readonly kind: 'tcp' | 'tls',
    private readonly host: string,
    private readonly port: number,
    readonly label: string,
    caFile?: string,
  ) {
    if (caFile !== undefined && kind !== 'tls')
      throw new Error('--ca applies to syslog+tls:// destinations only');
    try {
      this.ca = caFile !== undefined ? readFileSync(caFile) : undefined;
    } catch (err) {
      throw new Error(`cannot read the CA file ${caFile}: ${(err as Error).message}`);
    }
  }

  frame(message: string): Buffer {
    return octetCounted(message);
  }

  connect(): Promise<Link> {
    return new Promise((resolve, reject) => {
      const socket =
        this.kind === 'tls'
          ? tls.connect({
              host: this.host,
              port: this.port,
              ca: this.ca,
              // The name checked against the certificate: the host as given (an address is checked
              // against the certificate's IP entries, a name against its DNS entries and sent as SNI).
              servername: net.isIP(this.host) ? undefined : this.host,
              rejectUnauthorized: true,
              minVersion: 'TLSv1.2',
            })
          : net.connect({ host: this.host, port: this.port });
      const timer = setTimeout(() => {
        socket.destroy(new Error(`no connection within ${CONNECT_TIMEOUT_MS / 1000} s`));
      }, CONNECT_TIMEOUT_MS);
      const fail = (err: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        socket.destroy();
        if (err.code !== undefined && VERIFY_CODES.has(err.code))
          reject(
            new FatalExportError(
              `TLS receiver ${this.label} refused: its certificate is not verified (${err.code}: ${err.message}); ` +
                `give the CA that signed it with --ca, and a host name or address its certificate names`,
            ),
          );
        else reject(err);
      };
      socket.once('error', fail);
      socket.once(this.kind === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        resolve(new SocketLink(socket));
      });
    });
  }
}
