import { useState } from 'react';
import { api, type Me } from '../api';
import { ActionTable, PlaybookTable, type PlaybookAction, type PlaybookDef } from '../ChangeTables';
import { useApi } from '../useApi';

interface Action extends PlaybookAction {
  ttlS: number | null;
  expiresAt: number | null;
}

const ENFORCERS = ['security', 'operations', 'admin'];

/** The zones' pre-approved playbooks and what they did; a block or a revoked permit is undone with one click. */
export function Playbooks({ me }: { me: Me }) {
  const { data, error, reload } = useApi<{
    policy: string | null;
    playbooks: PlaybookDef[];
    actions: Action[];
  }>('/playbooks?limit=200');
  const [message, setMessage] = useState<string | null>(null);
  const canUndo = me.roles.some((r) => ENFORCERS.includes(r));
  const undo = async (a: Action) => {
    setMessage(null);
    try {
      await api(`/playbooks/actions/${encodeURIComponent(a.id)}/undo`, { method: 'POST' });
      setMessage(
        `${a.id} undone: ${a.kind === 'block_source' ? `${a.target} unblocked` : `permit ${a.target} restored`}`,
      );
    } catch (e) {
      setMessage((e as Error).message);
    }
    reload();
  };
  const now = Date.now() / 1000;
  return (
    <section>
      <h1>Playbooks</h1>
      {error && <p className="error">{error}</p>}
      {message && <p data-testid="playbook-message">{message}</p>}
      {data && (
        <>
          <p>
            {data.playbooks.length === 0
              ? 'The active policy has no playbooks: Weir takes no action on its own.'
              : `Pre-approved in policy ${data.policy}: what Weir may do on its own, within these limits.`}
          </p>
          {data.playbooks.length > 0 && (
            <PlaybookTable testId="playbooks" playbooks={data.playbooks} />
          )}
          <h2>Actions</h2>
          <ActionTable
            testId="playbook-actions"
            actions={data.actions}
            action={(a) =>
              canUndo &&
              a.status === 'done' &&
              a.kind !== 'notify' &&
              (a.expiresAt === null || a.expiresAt > now) && (
                <button onClick={() => void undo(a)}>Undo</button>
              )
            }
          />
        </>
      )}
    </section>
  );
}
