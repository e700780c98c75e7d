-- Per-project settings (Euriqa: GET/PATCH /api/projects/:id/settings).
CREATE TABLE project_settings (
  project_id              text PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
  data_retention_days     int NOT NULL DEFAULT 90,
  flakiness_threshold     double precision NOT NULL DEFAULT 0.3,
  auto_quarantine_enabled boolean NOT NULL DEFAULT false,
  settings                jsonb NOT NULL DEFAULT '{}',   -- room for more, validated by schemas/
  updated_at              timestamptz NOT NULL DEFAULT now()
);
