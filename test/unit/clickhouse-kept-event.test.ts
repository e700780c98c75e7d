import { describe, expect, it } from 'vitest';
import { keptForClickHouse } from '../../projections/clickhouse/kept-event.ts';
import { testResultRow } from '../../projections/clickhouse/tables/test-results.ts';
import { testErrorRow } from '../../projections/clickhouse/tables/test-errors.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import type { EventOf } from '../../schemas/events.ts';

// What the ClickHouse projector keeps of an event while its batch waits
// (Projection.keep) must give the same rows as the whole event.
describe('what the ClickHouse projector keeps of an event', () => {
  const result = EXAMPLE_EVENTS['test.reported'] as EventOf<'test.reported'>;
  const variants: Array<[string, EventOf<'test.reported'>]> = [
    ['the example', result],
    ['failed on its first attempt, passed on retry', {
      ...result,
      data: { ...result.data, status: 'flaky', error: null, attempts: [
        { attempt: 1, status: 'failed', duration: 10, error: { message: 'expected 1, got 2', stack: 'Error\n    at tests/a.spec.ts:3:5' } },
        { attempt: 2, status: 'passed', duration: 9, error: null },
      ] },
    }],
    ['with a long error, steps and output', {
      ...result,
      data: { ...result.data, status: 'failed', error: { message: 'x'.repeat(5000) }, stdout: 'out\n'.repeat(100), stderr: 'err',
        steps: [{ title: 'goto', category: 'action', status: 'passed', duration: 1, error: null, steps: [] }] },
    }],
  ];

  it.each(variants)('gives the same rows: %s', (_, e) => {
    const kept = keptForClickHouse(e);
    expect(testResultRow(kept as EventOf<'test.reported'>, 3, 42)).toEqual(testResultRow(e, 3, 42));
    expect(testErrorRow(kept as EventOf<'test.reported'>, 3, 42)).toEqual(testErrorRow(e, 3, 42));
  });

  it('drops what no table holds, and leaves other events whole', () => {
    const whole: EventOf<'test.reported'> = { ...result, data: { ...result.data, stdout: 'out', steps: [
      { title: 'goto', category: 'action', status: 'passed', duration: 1, error: null, steps: [] }] } };
    const kept = keptForClickHouse(whole);
    expect(kept.data).not.toHaveProperty('steps');
    expect(kept.data).not.toHaveProperty('stdout');
    expect(kept.data).not.toHaveProperty('tags');
    expect(kept).toMatchObject({ id: result.id, type: 'test.reported', projectId: result.projectId, data: { id: result.data.id } });
    for (const e of Object.values(EXAMPLE_EVENTS)) if (e.type !== 'test.reported') expect(keptForClickHouse(e)).toBe(e);
  });
});
