/**
 * Text a client chose (a user name typed at the login, say), made safe to store and show: control,
 * bidirectional-override and line-separator characters are written as \uXXXX, and it is cut to `max`
 * characters, so it cannot forge lines or reorder what a reader of the audit log sees.
 */
export function untrustedText(s: string, max = 64): string {
  const chars = [...s];
  const cut = chars.length > max ? [...chars.slice(0, max), '…'] : chars;
  return cut
    .map((c) =>
      /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/.test(c)
        ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
        : c,
    )
    .join('');
}
