import dgram from 'node:dgram';
import { createHash, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import radius from 'radius';
import { notAnAccount, type Directory, type Vouch } from './directory.js';

export interface RadiusOptions {
  host: string;
  port: number;
  /** File with the shared secret, read at each use (rotated without a restart; never kept in settings). */
  secretFile: string;
  timeoutMs: number;
  retries: number;
  /** Who asks, as the RADIUS server's logs name it. */
  nasIdentifier?: string;
}

/**
 * RADIUS: a PAP Access-Request (with Message-Authenticator, so a forged answer cannot pass — Blast-RADIUS);
 * an Access-Accept's Class and Filter-Id values are the person's groups, an Access-Reject refuses them. An
 * answer whose authenticator does not match the shared secret is not believed.
 */
export class RadiusDirectory implements Directory {
  readonly kind = 'radius';

  constructor(private readonly o: RadiusOptions) {
    if (isIP(o.host) === 0) throw new Error(`RADIUS host '${o.host}' is not an IP address`);
  }

  async verify(user: string, password: string): Promise<Vouch> {
    const odd = notAnAccount(user);
    if (odd !== null) return odd;
    if (password.length === 0 || password.length > 128)
      return { ok: false, reason: 'bad_credentials', detail: 'empty or over-long password' };
    const secret = readFileSync(this.o.secretFile, 'utf8').trim();
    if (secret.length === 0) throw new Error(`${this.o.secretFile} holds no RADIUS secret`);
    const identifier = randomInt(256);
    const request = radius.encode({
      code: 'Access-Request',
      secret,
      identifier,
      attributes: [
        ['User-Name', user],
        ['User-Password', password],
        ['NAS-Identifier', this.o.nasIdentifier ?? 'weir'],
        ['Service-Type', 'Authenticate-Only'],
      ],
      add_message_authenticator: true,
    });
    let response: Buffer;
    try {
      response = await this.exchange(request, identifier);
    } catch (err) {
      return { ok: false, reason: 'unreachable', detail: (err as Error).message };
    }
    let ok: boolean;
    try {
      ok = responseAuthentic(response, request, secret);
    } catch {
      ok = false;
    }
    if (!ok)
      return {
        ok: false,
        reason: 'bad_answer',
        detail: 'the answer does not carry our shared secret (wrong secret or a forged answer)',
      };
    const p = radius.decode({ packet: response, secret });
    if (p.code === 'Access-Reject')
      return { ok: false, reason: 'bad_credentials', detail: 'Access-Reject' };
    if (p.code !== 'Access-Accept')
      return { ok: false, reason: 'bad_answer', detail: `unexpected ${p.code}` };
    const groups: string[] = [];
    for (const [k, v] of p.raw_attributes as Array<[number, Buffer]>)
      if (k === 25 || k === 11) groups.push(v.toString('utf8')); // Class, Filter-Id
    return { ok: true, user, groups: [...new Set(groups)] };
  }

  private exchange(request: Buffer, identifier: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket(isIP(this.o.host) === 6 ? 'udp6' : 'udp4');
      let tries = 0;
      let timer: NodeJS.Timeout;
      const done = (err: Error | null, b?: Buffer): void => {
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else resolve(b!);
      };
      const send = (): void => {
        if (tries++ > this.o.retries)
          return done(new Error(`no answer from ${this.o.host}:${this.o.port}`));
        sock.send(request, this.o.port, this.o.host);
        timer = setTimeout(send, this.o.timeoutMs);
      };
      sock.on('error', (err) => done(err));
      sock.on('message', (msg, from) => {
        // Only the server asked, only an answer to this request.
        if (from.address !== this.o.host || from.port !== this.o.port) return;
        if (msg.length < 20 || msg[1] !== identifier) return;
        done(null, msg);
      });
      sock.bind(0, () => send());
    });
  }
}

/** RADIUS attribute type of Message-Authenticator (RFC 3579). */
const MESSAGE_AUTHENTICATOR = 80;

/**
 * Whether an answer was made with our shared secret for this request: its Response Authenticator (RFC 2865
 * 3), and its Message-Authenticator when it carries one (servers before FreeRADIUS 3.2.5 send none by default).
 */
function responseAuthentic(response: Buffer, request: Buffer, secret: string): boolean {
  if (response.length < 20 || response.readUInt16BE(2) > response.length) return false;
  const copy = Buffer.from(response.subarray(0, response.readUInt16BE(2)));
  request.copy(copy, 4, 4, 20);
  const want = createHash('md5').update(copy).update(secret).digest();
  if (!want.equals(response.subarray(4, 20))) return false;
  for (let o = 20; o + 2 <= copy.length; ) {
    const len = copy[o + 1]!;
    if (len < 2) return false;
    // Checked by the library against the request's authenticator, as RFC 3579 3.2 says.
    if (copy[o] === MESSAGE_AUTHENTICATOR)
      return radius.verify_response({ response, request, secret });
    o += len;
  }
  return true;
}
