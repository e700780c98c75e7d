export { RunledgerClient, type ClientOptions, type RequestOptions, type Response, type UploadInput } from './client.ts';
export { RunledgerError, parseRetryAfter } from './errors.ts';
export { DEFAULT_RETRY, backoffMs, delayBefore, sleep, type RetryPolicy } from './retry.ts';
export type * from './types.ts';
export { detectCi, CI_PROVIDERS, type CiInfo } from './ci.ts';
export { activeQuarantine, identityKey, quarantineVerdict, type QuarantineVerdict, type TestIdentity } from './quarantine.ts';
export { Outbox, type Entry, type OutboxOptions, type Undeliverable } from './outbox.ts';
export { expectedActual, stripAnsi } from './assertions.ts';
