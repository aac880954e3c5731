import { useState, type FormEvent } from 'react';
import { api, type Me } from '../api';

export function Login({ onLogin }: { onLogin: (me: Me) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      onLogin(await api<Me>('/session', { method: 'POST', body: { user, password } }));
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="login" onSubmit={submit}>
      <h1>Weir</h1>
      <label>
        User{' '}
        <input
          name="user"
          value={user}
          onChange={(e) => setUser(e.target.value)}
          autoComplete="username"
        />
      </label>
      <label>
        Password{' '}
        <input
          name="password"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="current-password"
        />
      </label>
      <button type="submit">Log in</button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
