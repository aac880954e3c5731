/**
 * Whether a raw request target names something under /api, however it is spelled (percent-encoding, case,
 * doubled slashes, absolute form): such paths get a JSON 404, never the dashboard page.
 */
export function isApiPath(target: string): boolean {
  let p = target.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '').split(/[?#]/)[0]!;
  try {
    p = decodeURIComponent(p);
  } catch {
    /* keep the raw text */
  }
  return /^[\\/]+(?:\.{0,2}[\\/]+)*api(?:[\\/;.%]|$)/i.test(p);
}
