import { useCallback, useEffect, useState } from 'react';
import { api } from './api';

/** Load an API resource; `reload` fetches it again after an action. */
export function useApi<T>(path: string): {
  data: T | null;
  error: string | null;
  reload: () => void;
} {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    api<T>(path).then(
      (d) => {
        if (live) {
          setData(d);
          setError(null);
        }
      },
      (e: Error) => {
        if (live) setError(e.message);
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
  return { data, error, reload: useCallback(() => setTick((t) => t + 1), []) };
}
