import type { WebSocket } from 'ws';
import type { RoutePlugin } from '../plugin.js';
import { CONNECTION_LIMITS } from '../connections.js';
import { SESSION_COOKIE } from '../auth.js';
import { tokenHash } from '../passwords.js';
import { sessionOf } from '../../store/session-store.js';
import { USER_ROLES } from '../../respond/roles.js';

/** A dashboard that stops reading gets cut off rather than buffered for without end. */
const MAX_BUFFERED = 1024 * 1024;

/**
 * /api/live: the session gate and the Origin check have run on this route before the upgrade; clients only
 * listen. A peer that stops answering pings (a laptop that went to sleep, a dead link) is dropped after two
 * heartbeats, so dead sockets do not pile up. The session is asked again at each heartbeat and before each
 * send, not only at the upgrade: a logout, an expiry, a password or role change or the user's removal (from
 * the API or the CLI) closes the feed with 1008 before anything more is sent.
 */
export const liveRoutes: RoutePlugin = async (
  app,
  { db, feed, heartbeatSeconds = CONNECTION_LIMITS.heartbeatSeconds },
) => {
  app.get('/api/live', { websocket: true }, (socket: WebSocket, req) => {
    if (feed === undefined) {
      socket.send(JSON.stringify({ type: 'idle' }));
      socket.close(1000, 'no capture is being followed');
      return;
    }
    const token = req.cookies[SESSION_COOKIE];
    const hash = token ? tokenHash(token) : null;
    // One store lookup per turn of the event loop: a burst of events published together shares it.
    let checked: boolean | null = null;
    let failed: string | null = null;
    const sessionHolds = (): boolean => {
      if (checked !== null) return checked;
      let s: ReturnType<typeof sessionOf>;
      try {
        s = hash === null ? null : sessionOf(db, hash);
      } catch (err) {
        // Called from a timer or the feed's publisher: a throw there (a busy store) would end the server or the
        // capture's ingest. A session that cannot be checked reads nothing; the page says to reconnect.
        failed = (err as Error).message;
        s = null;
      }
      // Every role reads the feed; a session left with none reads nothing.
      checked = s !== null && s.roles.some((r) => (USER_ROLES as readonly string[]).includes(r));
      setImmediate(() => {
        checked = null;
      });
      return checked;
    };
    let closed = false;
    const endSession = (): void => {
      if (closed) return;
      closed = true;
      if (failed !== null) socket.close(1011, 'the session could not be checked: reconnect');
      else socket.close(1008, 'session ended: log in again');
    };
    let alive = true;
    socket.on('pong', () => {
      alive = true;
    });
    const beat = setInterval(() => {
      if (!alive) {
        socket.terminate();
        return;
      }
      if (!sessionHolds()) return endSession();
      alive = false;
      socket.ping();
    }, heartbeatSeconds * 1000);
    const send = (e: unknown): void => {
      if (closed || socket.readyState !== 1) return;
      if (!sessionHolds()) return endSession();
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
