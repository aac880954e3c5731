/** Control, bidirectional-override and line-separator characters: they can forge or reorder what a reader sees. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');

/** The text with each such character written as \uXXXX (as is, without a copy, when it has none). */
export function escapeControls(s: string): string {
  return UNSAFE.test(s)
    ? s.replace(UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    : s;
}

/**
 * Text a client chose (a user name typed at the login or the access portal, say), made safe to store and
 * show: escaped as above and cut to `max` characters, so it cannot forge lines or reorder what a reader of
 * the audit log sees.
 */
export function untrustedText(s: string, max = 64): string {
  const chars = [...s];
  return escapeControls(chars.length > max ? `${chars.slice(0, max).join('')}…` : s);
}
