/** Text for HTML: what a person typed or a policy names never becomes markup. */
const esc = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/**
 * The access portal: one plain form (no script, no inline style — the server's CSP allows neither), posted to
 * /portal. It lets in only the address it is used from, which it shows.
 */
export function portalPage(o: {
  templates: string[];
  client: string;
  message: string | null;
}): string {
  const options = o.templates.map((t) => `<option value="${esc(t)}">${esc(t)}</option>`).join('');
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Weir access portal</title></head>
<body>
<main>
<h1>Temporary access</h1>
<p>This network lets in only what its policy allows. Sign in with your directory account to use a permit
template; access is given to <strong>${esc(o.client)}</strong> and lapses by itself.</p>
${o.message !== null ? `<p role="status">${esc(o.message)}</p>` : ''}
<form method="post" action="/portal">
<p><label>Account <input name="user" autocomplete="username" required maxlength="128"></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="256"></label></p>
<p><label>Template <select name="template" required>${options}</select></label></p>
<p><label>Minutes (optional, at most the template's) <input name="ttl_s" inputmode="numeric" pattern="[0-9]{1,5}"></label></p>
<p><button type="submit">Request access</button></p>
</form>
</main>
</body>
</html>
`;
}
