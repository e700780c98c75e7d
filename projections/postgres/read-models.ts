// The tables this projection owns, in dependency-free order: truncating them
// (plus its rows in projection_offsets) and replaying the log rebuilds them.
export const POSTGRES_READ_MODELS = ['runs', 'suites', 'test_cases', 'tests', 'test_steps', 'artifacts', 'quarantines', 'quarantine_history', 'project_tombstones'] as const;

// The read models with a project_id column, emptied of a project by
// project.deleted (test_steps go with their tests). A new read model belongs
// here too: the contract test checks that project.deleted leaves nothing.
export const PROJECT_READ_MODELS = ['tests', 'suites', 'artifacts', 'test_cases', 'quarantines', 'quarantine_history', 'runs'] as const;
