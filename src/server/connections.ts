import type { Server } from 'node:http';
import { DEFAULT_SETTINGS, type Settings } from '../settings/model.js';

/** How long a client may take, and how many connections it may hold. */
export interface ConnectionLimits {
  /** From connecting (or the end of the last answer) to the end of the request headers; covers silent sockets. */
  headersSeconds: number;
  /** For the whole request, body included: a body sent one byte a second is cut here. */
  requestSeconds: number;
  /** An idle kept-alive connection between requests. */
  keepAliveSeconds: number;
  /** Socket inactivity while a request is under way. */
  idleSeconds: number;
  /** Connections at once, all clients together. */
  maxConnections: number;
  /** Connections at once from one address (a browser opens about six). */
  perAddress: number;
  /** Live WebSocket pings; a peer that misses one is dropped at the next. */
  heartbeatSeconds: number;
}

/** The limits a settings file sets (server.connections). */
export function connectionLimitsOf(c: Settings['server']['connections']): ConnectionLimits {
  return {
    headersSeconds: c.headers_s,
    requestSeconds: c.request_s,
    keepAliveSeconds: c.keep_alive_s,
    idleSeconds: c.idle_s,
    maxConnections: c.max_connections,
    perAddress: c.per_address,
    heartbeatSeconds: c.heartbeat_s,
  };
}

export const CONNECTION_LIMITS: ConnectionLimits = connectionLimitsOf(
  DEFAULT_SETTINGS.server.connections,
);

/** Fastify options for these limits; `server` goes on to http(s).createServer. */
export function timeoutOptions(l: ConnectionLimits): {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  server: Record<string, number>;
} {
  return {
    connectionTimeout: l.idleSeconds * 1000,
    keepAliveTimeout: l.keepAliveSeconds * 1000,
    requestTimeout: l.requestSeconds * 1000,
    // Node checks headers and request deadlines on this interval; a TLS handshake has its own deadline.
    server: {
      headersTimeout: l.headersSeconds * 1000,
      connectionsCheckingInterval: Math.min(1000, l.headersSeconds * 250),
      handshakeTimeout: l.headersSeconds * 1000,
    },
  };
}

/**
 * Caps what one client can hold: beyond `perAddress` connections from one address, or `maxConnections` in
 * all, a new connection is closed at once, so sockets held open by one host cannot starve everyone else.
 * An `uncapped` peer (the trusted proxy, which carries everyone's connections) meets the total cap only.
 */
export function capConnections(
  server: Server,
  l: ConnectionLimits,
  uncapped: (address: string | undefined) => boolean = () => false,
): void {
  server.maxConnections = l.maxConnections;
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    if (uncapped(socket.remoteAddress)) return;
    const who = socket.remoteAddress ?? '';
    const n = (open.get(who) ?? 0) + 1;
    if (n > l.perAddress) {
      socket.destroy();
      return;
    }
    open.set(who, n);
    socket.once('close', () => {
      const m = (open.get(who) ?? 1) - 1;
      if (m <= 0) open.delete(who);
      else open.set(who, m);
    });
  });
}
