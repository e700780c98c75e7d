import { useState } from 'preact/hooks';
import { Redirect } from 'wouter-preact';
import { post } from '../api';
import { ErrorBox, Loading, useApi, usePageTitle } from '../ui/kit';

function nextPath(): string {
  const n = new URLSearchParams(location.search).get('next');
  // Only a path of this site: never an absolute URL given in a link.
  return n && n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

function CredentialsForm({ submit, label, hint }: { submit: (email: string, password: string) => Promise<unknown>; label: string; hint?: string }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="auth-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await submit(email, password);
          location.assign(nextPath());
        } catch (err) {
          setError(err);
          setBusy(false);
        }
      }}
    >
      <label>Email<input type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} /></label>
      <label>Password<input type="password" name="password" autoComplete={label === 'Sign in' ? 'current-password' : 'new-password'} required value={password} onInput={(e) => setPassword(e.currentTarget.value)} /></label>
      {hint ? <p class="muted">{hint}</p> : null}
      <ErrorBox error={error} title={`${label} failed`} />
      <button type="submit" class="primary" disabled={busy}>{busy ? '…' : label}</button>
    </form>
  );
}

export function LoginPage() {
  usePageTitle('Sign in');
  const setup = useApi<{ needsSetup: boolean }>('/api/auth/setup');
  if (setup.isLoading) return <Loading />;
  if (setup.data?.needsSetup) return <Redirect to="/setup" />;
  return (
    <main class="center" id="main">
      <h1>Sign in to Runledger</h1>
      <ErrorBox error={setup.error} title="Could not reach the server" />
      <CredentialsForm label="Sign in" submit={(email, password) => post('/api/auth/login', { email, password })} />
    </main>
  );
}

export function SetupPage() {
  usePageTitle('First-run setup');
  const setup = useApi<{ needsSetup: boolean }>('/api/auth/setup');
  if (setup.isLoading) return <Loading />;
  if (setup.data && !setup.data.needsSetup) return <Redirect to="/login" />;
  return (
    <main class="center" id="main">
      <h1>Set up Runledger</h1>
      <p>This instance has no administrator yet. Create the first account: it becomes the instance administrator.</p>
      <ErrorBox error={setup.error} title="Could not reach the server" />
      <CredentialsForm label="Create administrator" hint="At least 10 characters, not a common password." submit={(email, password) => post('/api/auth/setup', { email, password })} />
    </main>
  );
}
