// Ports for servers a test stops and starts again on the same port.
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The first port of the kernel's ephemeral range (what it hands to port-0 listeners and outgoing connections). */
function ephemeralLow(): number {
  try {
    const low = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    return Number.isInteger(low) ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * A loopback port (free for TCP and UDP now) for a server that a test stops and starts again on it, picked at
 * random below the kernel's ephemeral range: a port the OS picks (freePort) can be handed, while its server is
 * down, to any process's port-0 listener or outgoing connection on this host, and the restart then fails.
 * Ports down here are handed out only when asked for by number.
 */
export async function restartablePort(host = '127.0.0.1'): Promise<number> {
  const to = ephemeralLow() - 1;
  const from = Math.min(10_000, to - 1000);
  for (let i = 0; i < 200; i++) {
    const p = from + Math.floor(Math.random() * (to - from + 1));
    if ((await tcpFree(p, host)) && (await udpFree(p, host))) return p;
  }
  throw new Error(`no free port between ${from} and ${to}`);
}
