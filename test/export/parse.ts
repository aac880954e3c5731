/** Minimal readers of the formats, written from their specifications, to check what a receiver got. */

export function parseCef(s: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < s.length && header.length < 7; i++) {
    const c = s[i]!;
    if (c === '\\' && (s[i + 1] === '|' || s[i + 1] === '\\')) cur += s[++i];
    else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  const rest = s.slice(i);
  const ext: Record<string, string> = {};
  // Keys are words followed by '='; a value runs to the next unescaped ' key='.
  const re = /(?:^| )([A-Za-z0-9_]+)=((?:\\.|[^\\])*?)(?= [A-Za-z0-9_]+=|$)/g;
  for (const m of rest.matchAll(re))
    ext[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) =>
      c === 'n' ? '\n' : c === 'r' ? '\r' : c,
    );
  return { header, ext };
}

export function parseLeef(s: string): { header: string[]; attrs: Record<string, string> } {
  const parts = s.split('|');
  const header = parts.slice(0, 6);
  const body = parts.slice(6).join('|');
  const attrs: Record<string, string> = {};
  for (const kv of body.split(header[5] === 'x09' ? '\t' : header[5]!)) {
    const eq = kv.indexOf('=');
    if (eq > 0) attrs[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { header, attrs };
}
