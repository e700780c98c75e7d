import { z } from 'zod';
import type { Queryable } from '../../lib/pg.ts';
import { DEFAULT_PARAMS, type FlakinessParams } from '../analytics/flakiness/score.ts';

// Reads project_settings (written by the settings API, not here). A project
// without a row has the defaults; the model's knobs live under
// `settings.flakiness` in the row's jsonb, and a value there that is missing or
// out of range falls back to its default instead of failing a request.
export type ProjectSettings = {
  flakinessThreshold: number;
  autoQuarantineEnabled: boolean;
  // Auto-quarantine releases a test after this many clean executions in a row.
  releaseAfterStableRuns: number;
  flakiness: FlakinessParams;
};

export const DEFAULT_RELEASE_AFTER_STABLE_RUNS = 20;

const knob = (schema: z.ZodNumber, fallback: number) => schema.catch(fallback).default(fallback);
const FlakinessKnobs = z.object({
  halfLifeDays: knob(z.number().min(0.5).max(365), DEFAULT_PARAMS.halfLifeDays),
  windowDays: knob(z.number().int().min(1).max(365), DEFAULT_PARAMS.windowDays),
  minRuns: knob(z.number().int().min(1).max(1000), DEFAULT_PARAMS.minRuns),
  incidentFailureShare: knob(z.number().min(0.05).max(1), DEFAULT_PARAMS.incidentFailureShare),
  incidentMinResults: knob(z.number().int().min(1).max(100_000), DEFAULT_PARAMS.incidentMinResults),
  releaseAfterStableRuns: knob(z.number().int().min(1).max(1000), DEFAULT_RELEASE_AFTER_STABLE_RUNS),
}).catch({} as never);

type SettingsRow = { flakiness_threshold: number; auto_quarantine_enabled: boolean; settings: Record<string, unknown> };

export async function readProjectSettings(db: Queryable, projectId: string): Promise<ProjectSettings> {
  const row = (await db.query(
    'SELECT flakiness_threshold, auto_quarantine_enabled, settings FROM project_settings WHERE project_id = $1',
    [projectId],
  )).rows[0] as SettingsRow | undefined;
  return settingsOf(row);
}

// Every project's flakiness parameters, in one query (the flakiness projection's sweep).
export async function readAllFlakinessParams(db: Queryable): Promise<Map<string, FlakinessParams>> {
  const rows = (await db.query(
    `SELECT p.id, s.flakiness_threshold, s.auto_quarantine_enabled, s.settings FROM projects p
     LEFT JOIN project_settings s ON s.project_id = p.id ORDER BY p.id`,
  )).rows as Array<{ id: string } & Partial<SettingsRow>>;
  return new Map(rows.map((r) => [r.id, settingsOf(r.settings ? (r as SettingsRow) : undefined).flakiness]));
}

function settingsOf(row: SettingsRow | undefined): ProjectSettings {
  const raw = row?.settings?.flakiness;
  const knobs = FlakinessKnobs.parse(raw && typeof raw === 'object' ? raw : {});
  const { releaseAfterStableRuns, ...params } = { ...FlakinessKnobs.parse({}), ...knobs };
  return {
    flakinessThreshold: row?.flakiness_threshold ?? 0.3,
    autoQuarantineEnabled: row?.auto_quarantine_enabled ?? false,
    releaseAfterStableRuns,
    flakiness: { ...DEFAULT_PARAMS, ...params },
  };
}
