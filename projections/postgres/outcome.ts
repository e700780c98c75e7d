// What applying one event came to. Bad data is an outcome, not an exception:
// exceptions are for infrastructure failures, which retry the whole batch.
export type Outcome =
  | { kind: 'ok' }
  | { kind: 'drop'; reason: string } // nothing to do (e.g. its run was deleted); logged
  | { kind: 'dead_letter'; reason: string };
