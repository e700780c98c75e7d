-- Personal API tokens (issue 17, docs/access.md): a user's own long-lived
-- credential `rlp_…`, shown once; only its SHA-256 is stored. It acts as its
-- user within the user's current team roles, narrowed by `scope`. Revoking
-- sets revoked_at; authentication reads this table on every request.
CREATE TABLE personal_tokens (
  id           text PRIMARY KEY,
  user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  token_hash   text NOT NULL UNIQUE,
  token_last4  text NOT NULL,
  scope        text NOT NULL CHECK (scope IN ('read', 'full')),
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX personal_tokens_user_idx ON personal_tokens (user_id, created_at);
