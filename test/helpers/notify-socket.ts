import { spawn } from 'node:child_process';

/**
 * systemd's side of sd_notify, played by a real unix datagram socket (Python; Node has none): every datagram
 * it receives, as one string. `@name` is an abstract socket; a path is made writable by anyone (a service
 * user sends to it).
 */
export function notifySocket(address: string) {
  const py = `
import socket, sys, json, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a = sys.argv[1]
s.bind('\\0' + a[1:] if a.startswith('@') else a)
if not a.startswith('@'): os.chmod(a, 0o777)
print('bound', flush=True)
while True:
    d = s.recv(4096)
    print(json.dumps(d.decode()), flush=True)
`;
  const p = spawn('python3', ['-c', py, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const got: string[] = [];
  let buf = '';
  let onBound: () => void;
  const bound = new Promise<void>((r) => (onBound = r));
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'bound') onBound();
      else got.push(JSON.parse(line) as string);
    }
  });
  return { got, bound, stop: () => p.kill('SIGKILL') };
}

/** Wait until `cond` holds, or fail naming `what`. */
export async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
