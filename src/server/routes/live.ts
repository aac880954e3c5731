import type { WebSocket } from 'ws';
import type { RoutePlugin } from '../plugin.js';
import { CONNECTION_LIMITS } from '../connections.js';

/** A dashboard that stops reading gets cut off rather than buffered for without end. */
const MAX_BUFFERED = 1024 * 1024;

/**
 * /api/live: the session gate and the Origin check have run on this route before the upgrade; clients only
 * listen. A peer that stops answering pings (a laptop that went to sleep, a dead link) is dropped after two
 * heartbeats, so dead sockets do not pile up.
 */
export const liveRoutes: RoutePlugin = async (
  app,
  { feed, heartbeatSeconds = CONNECTION_LIMITS.heartbeatSeconds },
) => {
  app.get('/api/live', { websocket: true }, (socket: WebSocket) => {
    if (feed === undefined) {
      socket.send(JSON.stringify({ type: 'idle' }));
      socket.close(1000, 'no capture is being followed');
      return;
    }
    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const beat = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      alive = false;
      socket.ping();
    }, heartbeatSeconds * 1000);
    const send = (e: unknown): void => {
      if (socket.readyState !== 1) return;
      if (socket.bufferedAmount > MAX_BUFFERED) {
        socket.terminate();
        return;
      }
      socket.send(JSON.stringify(e));
    };
    if (feed.last) send(feed.last);
    const off = feed.subscribe(send);
    socket.on('close', () => {
      clearInterval(beat);
      off();
    });
    socket.on('message', () => socket.close(1008, 'this feed only talks'));
  });
};
