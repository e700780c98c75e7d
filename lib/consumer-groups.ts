import type { Config } from './config.ts';

// The consumers of the log, each with its own consumer group. Health, resets and
// rebuilds name them; app/projectors.ts builds them.
export const PROJECTION_NAMES = ['postgres', 'clickhouse', 'blobs', 'flakiness', 'quarantine', 'webhooks'] as const;
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

export const groupIdOf = (config: Config, name: ProjectionName) => `${config.consumerGroupPrefix}.projection.${name}`;
