-- Accounts and access (issue 4): invitations, the audit log, and what user
-- sessions need. Management entities: written directly by the API, not via the log.

-- Changing a password bumps session_version; tokens carry the version they were
-- issued under, so every older token stops working at once.
ALTER TABLE users ADD COLUMN session_version int NOT NULL DEFAULT 0;

-- Invitations to a team (Euriqa: POST /api/team-members). The token is shown once
-- to the inviter; only its SHA-256 is stored. Accepting it makes the membership.
CREATE TABLE team_invitations (
  id          text PRIMARY KEY,
  team_id     text NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  email       text NOT NULL,
  role        text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
  token_hash  text NOT NULL UNIQUE,
  status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'revoked')),
  invited_by  text REFERENCES users (id) ON DELETE SET NULL,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  accepted_at timestamptz,
  accepted_by text REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX team_invitations_team_idx ON team_invitations (team_id, created_at DESC);
-- One open invitation per address and team; an expired one is replaced on re-invite.
CREATE UNIQUE INDEX team_invitations_pending_key ON team_invitations (team_id, lower(email)) WHERE status = 'pending';

-- Every management change: who, what, when, before and after (secrets masked).
-- No foreign keys: the record outlives what it describes.
CREATE TABLE audit_log (
  id          text PRIMARY KEY,
  team_id     text,                 -- null for instance-level changes (users)
  project_id  text,
  actor_type  text NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system')),
  actor_id    text NOT NULL,
  action      text NOT NULL,
  target_type text NOT NULL,
  target_id   text NOT NULL,
  before      jsonb,
  after       jsonb,
  request_id  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_team_idx ON audit_log (team_id, created_at DESC, id DESC);
CREATE INDEX audit_log_instance_idx ON audit_log (created_at DESC, id DESC) WHERE team_id IS NULL;
