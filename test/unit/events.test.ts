import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, Event, partitionKey } from '../../schemas/events.ts';
import { EXAMPLE_EVENTS } from '../../schemas/examples.ts';
import { derivedId, isId, newId } from '../../schemas/ids.ts';

describe('event schemas', () => {
  it('has a valid example for every event type', () => {
    for (const type of EVENT_TYPES) {
      const parsed = Event.safeParse(EXAMPLE_EVENTS[type]);
      expect(parsed.success, `${type}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`).toBe(true);
      expect(EXAMPLE_EVENTS[type].type).toBe(type);
    }
  });

  it('rejects an event whose data does not match its type', () => {
    const bad = { ...EXAMPLE_EVENTS['run.created'], type: 'test.reported' };
    expect(Event.safeParse(bad).success).toBe(false);
    expect(Event.safeParse({ ...EXAMPLE_EVENTS['run.created'], version: 2 }).success).toBe(false);
  });

  it('keys a run\'s events by run id, and quarantine changes by test case', () => {
    expect(partitionKey(EXAMPLE_EVENTS['test.reported'])).toBe(EXAMPLE_EVENTS['test.reported'].runId);
    expect(partitionKey(EXAMPLE_EVENTS['test.quarantine_changed'])).toMatch(/^tc_/);
  });
});

describe('ids', () => {
  it('are prefixed, sortable and validated by kind', () => {
    const a = newId('run');
    const b = newId('run');
    expect(a < b).toBe(true);
    expect(isId('run', a)).toBe(true);
    expect(isId('test', a)).toBe(false);
    expect(isId('run', 'run_1; DROP TABLE runs')).toBe(false);
  });

  it('derives the same id from the same natural key, a different one otherwise', () => {
    expect(derivedId('testCase', 'p', 'a.spec.ts', 'x > y', 'chromium')).toBe(derivedId('testCase', 'p', 'a.spec.ts', 'x > y', 'chromium'));
    expect(derivedId('testCase', 'p', 'a.spec.ts', 'x > y', 'firefox')).not.toBe(derivedId('testCase', 'p', 'a.spec.ts', 'x > y', 'chromium'));
    // the separator cannot be forged by moving text between parts
    expect(derivedId('testCase', 'p', 'ab', 'c', '')).not.toBe(derivedId('testCase', 'p', 'a', 'bc', ''));
    expect(isId('testCase', derivedId('testCase', 'p'))).toBe(true);
  });
});
