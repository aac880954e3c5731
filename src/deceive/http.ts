import type { DecoyIdentity } from './identity-model.js';

/**
 * The web page an HMI or a PLC's built-in server shows: a login page titled with the device, a Server header
 * in the vendor's style. Any path answers the same page (a form POST gets "wrong password"), so a scanner sees
 * one consistent device.
 */
export function httpAnswer(id: DecoyIdentity, request: string): string | null {
  const line = /^(GET|HEAD|POST|OPTIONS) (\S+) HTTP\/1\.[01]\r?\n/.exec(request);
  if (line === null) return request.includes('\n') ? badRequest() : null;
  if (!/\r?\n\r?\n/.test(request)) return null;
  const esc = (s: string): string =>
    s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const failed = line[1] === 'POST';
  const body = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${esc(id.http.title)}</title></head>
<body><h1>${esc(id.product)}</h1><p>${esc(id.hostname)} &middot; ${esc(id.vendor)} &middot; ${esc(id.firmware)}</p>
${failed ? '<p class="error">Login failed.</p>' : ''}<form method="post" action="/login"><label>User <input name="user"></label>
<label>Password <input name="password" type="password"></label><button>Log in</button></form></body></html>
`;
  return [
    `HTTP/1.1 ${failed ? '401 Unauthorized' : '200 OK'}`,
    `Server: ${id.http.server}`,
    'Content-Type: text/html; charset=utf-8',
    `Content-Length: ${line[1] === 'HEAD' ? 0 : Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    line[1] === 'HEAD' ? '' : body,
  ].join('\r\n');
}

function badRequest(): string {
  return 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';
}
