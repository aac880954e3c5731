/** IPv4 blocks that are not routed on the internet (RFC 6890): private, shared, loopback, link-local, test and multicast. */
const LOCAL_BLOCKS: Array<[base: number, bits: number]> = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0000000, 24],
  [0xc0000200, 24],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xc6336400, 24],
  [0xcb007100, 24],
  [0xe0000000, 3],
];

/** True for a globally routed IPv4 address, as a number (see ipv4Number); false for -1 (not IPv4). */
export function isPublicIpv4(n: number): boolean {
  if (n < 0) return false;
  for (const [base, bits] of LOCAL_BLOCKS)
    if (Math.floor(n / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits))) return false;
  return true;
}

/** An IPv4 address in dotted form as a number, or -1 when it is not one. */
export function ipv4Number(ip: string): number {
  // Dotted decimal digits only (what dissectors write): parsed in place, no split. Anything else takes the
  // general path below, which decides exactly as before.
  let n = 0,
    part = 0,
    digits = 0,
    dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      digits++;
    } else if (c === 46) {
      if (digits === 0 || part > 255) return -1;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return ipv4NumberGeneral(ip);
  }
  if (dots !== 3 || digits === 0 || part > 255) return -1;
  return n * 256 + part;
}

function ipv4NumberGeneral(ip: string): number {
  const p = ip.split('.');
  if (p.length !== 4) return -1;
  let n = 0;
  for (const x of p) {
    const v = Number(x);
    if (!Number.isInteger(v) || v < 0 || v > 255 || x === '') return -1;
    n = n * 256 + v;
  }
  return n;
}
