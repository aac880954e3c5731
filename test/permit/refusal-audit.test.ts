// Refusals of permitted connections reach the audit log under the person's name, capped per minute so a
// client hammering refused writes cannot bury the log (the count left out is carried into the next entry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PermitRefusalAudit } from '../../src/permit/refusal-audit.js';

test('gateway refusals of permitted connections are audited, at most N a minute per person and client', () => {
  const out: Array<{
    actor: string;
    action: string;
    subject: string;
    details: Record<string, unknown>;
  }> = [];
  let now = 0;
  const a = new PermitRefusalAudit(
    (e) => out.push(e),
    3,
    () => now,
  );
  const denied = {
    event: 'denied',
    client: '10.0.0.5',
    server: '10.0.0.21',
    port: 502,
    user: 'alice',
    directory: 'ldap',
    template: 'plc-maint',
    func: 6,
    reason: 'address_not_allowed',
  };
  a.note({
    event: 'denied',
    client: '10.0.0.9',
    server: '10.0.0.21',
    port: 502,
    reason: 'no_rule',
  });
  assert.equal(out.length, 0, 'connections without a permit are not a person’s doing');
  for (let i = 0; i < 10; i++) a.note(denied);
  assert.equal(out.length, 3);
  assert.deepEqual(out[0], {
    actor: 'ldap:alice',
    action: 'permit.request_refused',
    subject: '10.0.0.5 → 10.0.0.21:502',
    details: {
      template: 'plc-maint',
      client: '10.0.0.5',
      server: '10.0.0.21',
      port: 502,
      func: 6,
      reason: 'address_not_allowed',
    },
  });
  now = 61_000;
  a.note({ ...denied, event: 'connection_closed', reason: 'the permit … was revoked' });
  assert.equal(out.length, 4);
  assert.equal(out[3]!.action, 'permit.connection_closed');
  assert.equal(out[3]!.details.earlier_left_out, 7);
});
