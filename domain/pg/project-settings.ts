import type { Queryable } from '../../lib/pg.ts';
import { SETTINGS_DEFAULTS, type ProjectSettingsPatchBody } from '../../schemas/accounts.ts';

export type ProjectSettingsRow = {
  project_id: string; data_retention_days: number; flakiness_threshold: number; auto_quarantine_enabled: boolean;
  settings: Record<string, unknown>; updated_at: Date;
};

// A project without a row has the defaults (the column defaults of the table,
// mirrored in schemas/accounts.ts SETTINGS_DEFAULTS).
export const projectSettings = {
  async get(db: Queryable, projectId: string): Promise<ProjectSettingsRow | undefined> {
    return (await db.query('SELECT * FROM project_settings WHERE project_id = $1', [projectId])).rows[0];
  },
  async update(db: Queryable, projectId: string, p: ProjectSettingsPatchBody): Promise<ProjectSettingsRow> {
    const r = await db.query(
      `INSERT INTO project_settings AS s (project_id, data_retention_days, flakiness_threshold, auto_quarantine_enabled)
       VALUES ($1, coalesce($2::int, $5::int), coalesce($3::float8, $6::float8), coalesce($4::boolean, $7::boolean))
       ON CONFLICT (project_id) DO UPDATE SET
         data_retention_days = coalesce($2::int, s.data_retention_days),
         flakiness_threshold = coalesce($3::float8, s.flakiness_threshold),
         auto_quarantine_enabled = coalesce($4::boolean, s.auto_quarantine_enabled),
         updated_at = now()
       RETURNING *`,
      [projectId, p.dataRetentionDays ?? null, p.flakinessThreshold ?? null, p.autoQuarantineEnabled ?? null,
        SETTINGS_DEFAULTS.dataRetentionDays, SETTINGS_DEFAULTS.flakinessThreshold, SETTINGS_DEFAULTS.autoQuarantineEnabled],
    );
    return r.rows[0];
  },
};

// `since` stands in for updatedAt while a project still has its defaults.
export function projectSettingsView(projectId: string, s: ProjectSettingsRow | undefined, since: Date) {
  return {
    projectId,
    dataRetentionDays: s?.data_retention_days ?? SETTINGS_DEFAULTS.dataRetentionDays,
    flakinessThreshold: s?.flakiness_threshold ?? SETTINGS_DEFAULTS.flakinessThreshold,
    autoQuarantineEnabled: s?.auto_quarantine_enabled ?? SETTINGS_DEFAULTS.autoQuarantineEnabled,
    updatedAt: (s?.updated_at ?? since).toISOString(),
  };
}
