import { siteLabel } from '../api';

/** Sites whose policy (so whose zones) the manager does not hold: said plainly, never guessed. */
export function ZonesUnknown({ sites, what }: { sites: string[]; what: string }) {
  if (sites.length === 0) return null;
  return (
    <p className="notice" data-testid="zones-unknown">
      The manager does not know the zones of {sites.map((s) => siteLabel(s)).join(', ')}: {what}{' '}
      without zones (no zone, no security level, no maintenance window).
    </p>
  );
}
