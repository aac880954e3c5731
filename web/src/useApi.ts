import { useCallback, useEffect, useState } from 'react';
import { api } from './api';

/**
 * Load an API resource; `reload` fetches it again after an action. What it returns is always the current path's:
 * when the path changes (another site or filter chosen), the previous answer is not shown under the new heading
 * while the new one loads (a slow manager showed north's proposals as "Approvals at site south").
 */
export function useApi<T>(path: string): {
  data: T | null;
  error: string | null;
  reload: () => void;
} {
  const [got, setGot] = useState<{ path: string; data: T | null; error: string | null }>({
    path,
    data: null,
    error: null,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    api<T>(path).then(
      (d) => {
        if (live) setGot({ path, data: d, error: null });
      },
      (e: Error) => {
        if (live)
          setGot((g) => ({ path, data: g.path === path ? g.data : null, error: e.message }));
      },
    );
    return () => {
      live = false;
    };
  }, [path, tick]);
  // While a capture is followed, refresh at most once a second when something new arrives.
  useEffect(() => {
    let last = 0;
    let pending: number | undefined;
    const f = () => {
      const wait = Math.max(0, 1000 - (Date.now() - last));
      window.clearTimeout(pending);
      pending = window.setTimeout(() => {
        last = Date.now();
        setTick((t) => t + 1);
      }, wait);
    };
    window.addEventListener('weir:live', f);
    return () => {
      window.removeEventListener('weir:live', f);
      window.clearTimeout(pending);
    };
  }, []);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const mine = got.path === path;
  return { data: mine ? got.data : null, error: mine ? got.error : null, reload };
}
