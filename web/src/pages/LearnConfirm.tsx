import { useState } from 'react';
import type { Detection } from '../api';

/** What the server says "learn" would make normal (GET /api/detections/:id/learn-preview). */
export interface LearnPreview {
  pair: string;
  protocol: string;
  function: string | null;
  addresses: string[];
  addressCount: number;
  becomesNormal: string;
  warnings: string[];
}

/**
 * The confirmation before a detection is learned into the baseline: what becomes normal, and — for a high or
 * critical detection or a source outside the baseline — a warning that must be acknowledged before the button
 * works, so an attacker's write is never whitelisted in one click.
 */
export function LearnConfirm({
  d,
  p,
  onConfirm,
  onCancel,
}: {
  d: Detection;
  p: LearnPreview;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const risky = p.warnings.length > 0;
  const [checked, setChecked] = useState(false);
  return (
    <div
      role="dialog"
      aria-modal="true"
      aria-labelledby="learn-title"
      className="dialog"
      style={{
        position: 'fixed',
        inset: '15% 20% auto 20%',
        background: '#fff',
        border: '2px solid #333',
        padding: '1em 1.5em',
        zIndex: 10,
        boxShadow: '0 4px 24px rgba(0,0,0,.3)',
      }}
    >
      <h2 id="learn-title">Learn into baseline: {d.type}</h2>
      <p data-testid="becomes-normal">
        <b>Becomes normal:</b> {p.becomesNormal}
      </p>
      <ul>
        <li>
          <b>Pair</b> {p.pair} ({p.protocol})
        </li>
        {p.function && (
          <li>
            <b>Function</b> {p.function}
          </li>
        )}
        {p.addressCount > 0 && (
          <li>
            <b>Addresses</b> {p.addresses.join(', ')}
            {p.addressCount > p.addresses.length ? ` … (${p.addressCount} in all)` : ''}
          </li>
        )}
      </ul>
      {risky && (
        <div
          role="alert"
          className="bad"
          style={{ border: '2px solid #c0392b', padding: '.5em 1em', fontWeight: 'bold' }}
        >
          <p>Warning — this may whitelist an attack:</p>
          <ul>
            {p.warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
          <label>
            <input
              type="checkbox"
              checked={checked}
              onChange={(e) => setChecked(e.target.checked)}
            />{' '}
            I have checked with the plant that this is not an attacker's traffic
          </label>
        </div>
      )}
      <p>Once learned, the same behaviour no longer raises a detection.</p>
      <button onClick={onConfirm} disabled={risky && !checked}>
        {risky ? 'Learn it anyway' : 'Learn into baseline'}
      </button>{' '}
      <button onClick={onCancel}>Cancel</button>
    </div>
  );
}
