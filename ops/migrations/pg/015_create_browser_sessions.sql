-- Browser sessions of the dashboard (docs/access.md "Browser sessions"). The
-- cookie holds a random token; only its SHA-256 is stored. A rotation keeps the
-- previous hash valid for a short grace so requests already in flight with the
-- old cookie do not fail.
CREATE TABLE browser_sessions (
  id              text PRIMARY KEY,
  token_hash      text NOT NULL UNIQUE,
  previous_hash   text,
  previous_until  timestamptz,
  user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- the user's session_version when it began: a password change ends it
  session_version int NOT NULL,
  csrf_token      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  rotated_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL
);
CREATE INDEX browser_sessions_previous ON browser_sessions (previous_hash) WHERE previous_hash IS NOT NULL;
CREATE INDEX browser_sessions_user ON browser_sessions (user_id);
CREATE INDEX browser_sessions_expiry ON browser_sessions (expires_at);

-- JWTs ended by POST /api/auth/logout, by jti, until they would expire anyway.
CREATE TABLE revoked_jwts (
  jti        text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
CREATE INDEX revoked_jwts_expiry ON revoked_jwts (expires_at);

-- Profile (PATCH /api/auth/me).
ALTER TABLE users ADD COLUMN avatar_url text;
