-- Read models built by projections/postgres from the event log. All of them can
-- be truncated and rebuilt by replaying the log (test/integration/replay.test.ts).
CREATE TABLE projection_offsets (
  projection text   NOT NULL,
  topic      text   NOT NULL,
  partition  int    NOT NULL,
  "offset"   bigint NOT NULL,   -- last applied offset
  PRIMARY KEY (projection, topic, partition)
);

CREATE TABLE runs (
  id                 text PRIMARY KEY,
  project_id         text NOT NULL,
  status             text NOT NULL,
  branch             text,
  commit_sha         text,
  commit_message     text,
  commit_author      text,
  ci_provider        text,
  ci_build_id        text,
  ci_build_url       text,
  playwright_version text,
  workers            int,
  shard_current      int,
  shard_total        int,
  browser            text,
  os                 text,
  viewport           text,
  hostname           text,
  run_title          text,
  tags               jsonb NOT NULL DEFAULT '[]',
  grep_patterns      jsonb NOT NULL DEFAULT '[]',
  -- counts computed from the projected test results
  total_tests        int NOT NULL DEFAULT 0,
  passed_tests       int NOT NULL DEFAULT 0,
  failed_tests       int NOT NULL DEFAULT 0,
  skipped_tests      int NOT NULL DEFAULT 0,
  flaky_tests        int NOT NULL DEFAULT 0,
  -- what the reporter said on PATCH, which wins over the computed values
  reported_stats     jsonb,
  duration           int,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  finished_at        timestamptz
);
CREATE INDEX runs_project_created_idx ON runs (project_id, created_at DESC, id DESC);
CREATE INDEX runs_project_branch_idx ON runs (project_id, branch, created_at DESC);

CREATE TABLE suites (
  id              text PRIMARY KEY,
  run_id          text NOT NULL,
  project_id      text NOT NULL,
  title           text NOT NULL,
  file_path       text,
  parent_suite_id text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL
);
CREATE INDEX suites_run_idx ON suites (run_id);

CREATE TABLE test_cases (
  id            text PRIMARY KEY,
  project_id    text NOT NULL,
  title         text NOT NULL,
  full_title    text NOT NULL,
  file_path     text NOT NULL,
  variant       text NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  last_test_id  text NOT NULL,
  last_status   text NOT NULL
);
CREATE INDEX test_cases_project_idx ON test_cases (project_id, file_path);

CREATE TABLE tests (
  id           text PRIMARY KEY,
  run_id       text NOT NULL,
  project_id   text NOT NULL,
  test_case_id text NOT NULL,
  suite_id     text,
  title        text NOT NULL,
  full_title   text NOT NULL,
  file_path    text NOT NULL,
  line_number  int,
  variant      text NOT NULL,
  status       text NOT NULL,
  duration     int NOT NULL,
  retries      int NOT NULL,
  attempt      int NOT NULL,
  is_flaky     boolean NOT NULL,
  tags         jsonb NOT NULL,
  annotations  jsonb NOT NULL,
  error        jsonb,
  attempts     jsonb NOT NULL,
  stdout       text NOT NULL,
  stderr       text NOT NULL,
  started_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL
);
CREATE INDEX tests_run_idx ON tests (run_id, created_at, id);
CREATE INDEX tests_project_idx ON tests (project_id, created_at DESC);
CREATE INDEX tests_case_idx ON tests (test_case_id, created_at DESC);

CREATE TABLE test_steps (
  test_id    text NOT NULL,
  idx        int  NOT NULL,       -- depth-first order
  parent_idx int,
  depth      int  NOT NULL,
  title      text NOT NULL,
  category   text NOT NULL,
  status     text NOT NULL,
  duration   int  NOT NULL,
  error      jsonb,
  PRIMARY KEY (test_id, idx)
);

CREATE TABLE artifacts (
  id          text PRIMARY KEY,
  run_id      text NOT NULL,
  project_id  text NOT NULL,
  test_id     text,
  type        text NOT NULL,
  file_name   text NOT NULL,
  file_size   bigint NOT NULL,
  mime_type   text NOT NULL,
  storage_key text NOT NULL,
  sha256      text NOT NULL,
  created_at  timestamptz NOT NULL
);
CREATE INDEX artifacts_run_idx ON artifacts (run_id);

-- Current quarantine state per test case; the history is the log itself.
CREATE TABLE quarantines (
  test_case_id   text PRIMARY KEY,
  project_id     text NOT NULL,
  is_quarantined boolean NOT NULL,
  reason         text NOT NULL,
  mode           text NOT NULL,
  owner          text,
  expires_at     timestamptz,
  changed_by     text NOT NULL,
  changed_at     timestamptz NOT NULL
);
CREATE INDEX quarantines_project_idx ON quarantines (project_id) WHERE is_quarantined;
