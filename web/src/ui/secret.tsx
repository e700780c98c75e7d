import { useState } from 'preact/hooks';

// A secret the server shows once (API key, webhook secret, invitation token): kept
// only in this component's state, gone from the page once dismissed.
export function SecretOnce({ label, value, onDismiss }: { label: string; value: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="secret" role="alert" data-testid="secret-once">
      <p><strong>{label}</strong> It is shown only this once: copy it now.</p>
      <code class="secret-v">{value}</code>
      <div class="row">
        <button type="button" onClick={async () => {
          try {
            await navigator.clipboard.writeText(value);
            setCopied(true);
          } catch {
            setCopied(false);
          }
        }}>{copied ? 'Copied' : 'Copy'}</button>
        <button type="button" class="primary" onClick={onDismiss}>Done</button>
      </div>
    </div>
  );
}
