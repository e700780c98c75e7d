// The tables this projection owns, in dependency-free order: truncating them
// (plus its rows in projection_offsets) and replaying the log rebuilds them.
export const POSTGRES_READ_MODELS = ['runs', 'suites', 'test_cases', 'tests', 'test_steps', 'artifacts', 'quarantines'] as const;
