import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Event, EventEnvelope, REPLAYED_FOR_HEADER, type EventType } from '../../schemas/events.ts';
import type { Logger } from '../../lib/logger.ts';
import { metrics } from '../../lib/metrics.ts';
import type { Heartbeat } from './heartbeat.ts';

// The one adapter between Kafka and every projection (DESIGN §4). It owns the
// client so projections never see kafkajs: they get decoded events of one
// partition, in offset order, and report what could not be applied.
//
//   decode → dead-letter what cannot be decoded → projection.apply → commit
//
// An offset is committed only after the projection returned, i.e. after its
// sink acknowledged. Partitions are processed one batch at a time, which bounds
// in-flight work and keeps commits in order. Projections must be idempotent:
// after a crash the last uncommitted batch comes again.

// The message as it came, kept so a dead letter carries the original bytes.
export type RawMessage = Pick<KafkaMessage, 'key' | 'value' | 'headers'>;
export type PositionedEvent<E extends EventEnvelope = Event> = { partition: number; offset: number; event: E; message: RawMessage };
export type DeadLetter = { partition: number; offset: number; message: RawMessage; reason: string; step: string };
export type PublishDeadLetters = (letters: DeadLetter[]) => Promise<void>;

// One partition's decoded events, in offset order; lastOffset is the batch's
// last offset even when its last messages could not be decoded.
// `heartbeat` keeps the consumer in its group: a projection that waits for
// something (the reactor waits for ClickHouse) calls it while it waits.
// `behind`: how many messages of the partition the broker held after this
// batch when it was fetched (0 when it reached the end): a catch-up has many.
export type ProjectionBatch<E extends EventEnvelope = Event> = {
  topic: string; partition: number; events: Array<PositionedEvent<E>>; lastOffset: number; heartbeat?: () => Promise<void>; behind?: number;
};

export interface Projection<E extends EventEnvelope = Event> {
  readonly name: string;
  // What it reads of an event: all of it (the default: validated against its
  // type's schema), or only the envelope (validated alone, `data` neither
  // parsed nor handed over), for a projection that needs to know only which
  // events of which projects arrived: validating a result's data costs more
  // than everything else such a projection does with it (issue 15 §2). As with
  // `handles`, the projections that read the data dead-letter a malformed one.
  readonly reads?: E extends Event ? 'event' : 'envelope';
  // The event types apply() looks at; omit it to receive every event. Events
  // of other types are skipped before they are parsed and validated (their
  // offsets still commit with the batch): a reactor that reacts to a run's end
  // need not validate every test result (issue 15 §2). A skipped event is
  // never dead-lettered by this projection, even if malformed: the projections
  // that handle its type do that.
  readonly handles?: ReadonlySet<EventType>;
  // What of each decoded event it keeps until the batch is applied; omit it to
  // keep the whole event. For a projection that reads a few fields of big
  // events: the rest is garbage at once instead of outliving the young
  // generation with its batch (the ClickHouse projector; docs/scaling.md,
  // session 12). The event is validated whole before, and dead letters carry
  // the message, not this.
  keep?(event: E): E;
  // Called again for each new assignment: caches of partition positions are stale then.
  onAssignment?(): void;
  // Apply one partition's events. Dead letters found while applying must be
  // published (awaited) before the projection durably records its position.
  // Throw for infrastructure failures: the batch is retried.
  apply(batch: ProjectionBatch<E>, publish: PublishDeadLetters): Promise<void>;
  close?(): Promise<void>;
}

export type ConsumerOptions = {
  kafka: Kafka;
  topic: string;
  dlqTopic: string;
  groupId: string;
  projection: Projection | Projection<EventEnvelope>;
  logger: Logger;
  // Fetch shaping: a projection that prefers big batches waits longer for them.
  minBytes?: number;
  maxWaitTimeInMs?: number;
  maxBytes?: number;
  maxBytesPerPartition?: number;
  // Batches of this many partitions at once (each partition stays in order):
  // for a projection that coalesces the work of concurrent batches.
  partitionsConsumedConcurrently?: number;
  sessionTimeoutMs?: number;
  // Records that the consume loop is alive (consumer_heartbeats, read by /health/deep).
  heartbeat?: Heartbeat;
};

export type RunningConsumer = { stop(): Promise<void>; consumer: Consumer };

export async function runProjection(opts: ConsumerOptions): Promise<RunningConsumer> {
  const { kafka, topic, dlqTopic, logger } = opts;
  // Events are decoded as the projection reads them (`reads`), so either kind takes what it gets.
  const projection = opts.projection as Projection<EventEnvelope>;
  const reads = projection.reads ?? 'event';
  const consumer = kafka.consumer({
    groupId: opts.groupId,
    minBytes: opts.minBytes ?? 1,
    maxWaitTimeInMs: opts.maxWaitTimeInMs ?? 100,
    // Smaller fetches than kafkajs' defaults (10 MB in all, 1 MB per partition;
    // 4 MB here before): during a catch-up each fetch response and its decoded
    // events are what a projector holds, and smaller ones kept peak RSS ~50 MB
    // lower at the same rate (docs/scaling.md). A message larger than these is
    // still fetched whole (the broker returns at least one).
    maxBytes: opts.maxBytes ?? 2 * 1024 * 1024,
    maxBytesPerPartition: opts.maxBytesPerPartition ?? 1024 * 1024,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    heartbeatInterval: Math.floor((opts.sessionTimeoutMs ?? 30_000) / 10),
    retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
  const dlq: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });

  const publish: PublishDeadLetters = async (letters) => {
    if (letters.length === 0) return;
    // A failed dead-letter write must stop the consumer rather than lose the
    // event, so this throws through eachBatch and nothing is committed.
    await dlq.send({
      topic: dlqTopic,
      acks: -1,
      messages: letters.map((l) => ({
        key: l.message.key,
        value: l.message.value,
        headers: {
          ...l.message.headers,
          'dlq-reason': l.reason.slice(0, 2000),
          'dlq-step': l.step,
          'dlq-projection': projection.name,
          'dlq-topic': topic,
          'dlq-partition': String(l.partition),
          'dlq-offset': String(l.offset),
        },
      })),
    });
    for (const l of letters) {
      metrics.deadLetters.inc({ projection: projection.name, step: l.step });
      logger.warn(
        { partition: l.partition, offset: l.offset, reason: l.reason, step: l.step, correlationId: correlationIdOf(l.message) },
        'dead-lettered event',
      );
    }
  };
  const labels = { projection: projection.name };
  const liveness = opts.heartbeat;

  await dlq.connect();
  await consumer.connect();
  consumer.on(consumer.events.GROUP_JOIN, () => projection.onAssignment?.());
  // Every fetch, empty or not, shows the loop is alive.
  if (liveness) consumer.on(consumer.events.FETCH_START, () => liveness.alive());
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
    eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
      if (batch.messages.length === 0) return;
      const events: Array<PositionedEvent<EventEnvelope>> = [];
      const undecodable: DeadLetter[] = [];
      for (const message of batch.messages) {
        if (projection.handles && !wanted(message, projection.handles)) continue;
        if (appliedBefore(message, projection.name)) continue;
        const decoded = decode(message, reads);
        const offset = Number(message.offset);
        if (decoded.ok) events.push({ partition: batch.partition, offset, event: projection.keep ? projection.keep(decoded.event) : decoded.event, message });
        else undecodable.push({ partition: batch.partition, offset, message, reason: decoded.reason, step: 'decode' });
      }
      await publish(undecodable);
      const started = Date.now();
      const last = batch.lastOffset();
      const behind = Math.max(0, Number(batch.highWatermark) - Number(last) - 1);
      metrics.batchSize.observe(labels, batch.messages.length);
      const applyEnd = metrics.batchDuration.startTimer(labels);
      try {
        await projection.apply({ topic: batch.topic, partition: batch.partition, events, lastOffset: Number(last), heartbeat, behind }, publish);
      } catch (err) {
        // kafkajs retries the batch (its own logs are off): say why here.
        logger.error({ err, projection: projection.name, partition: batch.partition, firstOffset: batch.firstOffset() }, 'batch failed, it will be retried');
        liveness?.failed(batch.partition, err); // /health/deep and /metrics show it (projection_progress)
        throw err;
      }
      applyEnd();
      liveness?.batch();
      // A revoked partition belongs to someone else now; they replay from the
      // last commit and the projection's own position makes that harmless.
      if (!isRunning() || isStale()) return;
      resolveOffset(last);
      const commitEnd = metrics.commitDuration.startTimer(labels);
      try {
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last) + 1) }]);
      } catch (err) {
        // The group rebalanced while the batch was applied (a member joined or
        // this one was too slow): kafkajs reports it wrapped as non-retriable,
        // which would crash the consumer for good. The partition's next owner
        // replays from the last commit; the projection's idempotence makes that
        // harmless. kafkajs rejoins at the next heartbeat.
        if (!lostMembership(err)) throw err;
        logger.warn({ partition: batch.partition, reason: (err as Error).message }, 'offset not committed: the group rebalanced');
        return;
      }
      commitEnd();
      liveness?.commit(batch.partition);
      metrics.consumerLag.set({ ...labels, partition: String(batch.partition) }, behind);
      await heartbeat();
      logger.debug({ partition: batch.partition, events: batch.messages.length, ms: Date.now() - started }, 'batch applied');
    },
  });

  return {
    consumer,
    // kafkajs waits for the batch in progress before leaving the group.
    async stop() {
      await consumer.disconnect();
      await dlq.disconnect();
      await liveness?.stop();
      await projection.close?.();
    },
  };
}

const REBALANCED = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS']);
function lostMembership(err: unknown): boolean {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type && REBALANCED.has(e.type)) return true;
  }
  return false;
}

// The request id the event was ingested under, for logs about it; '' if the
// message is not an event at all.
export function correlationIdOf(message: RawMessage): string | null {
  try {
    const id = (JSON.parse(message.value?.toString('utf8') ?? '') as { correlationId?: unknown }).correlationId;
    return typeof id === 'string' ? id : null;
  } catch {
    return null;
  }
}

// Whether a projection handling `handles` wants the message, from its type
// read cheaply: the event-type header ingest sets on every message, else the
// envelope's leading `{"id":"…","type":"…"` (JSON.stringify of an event built
// by ingest/events.ts starts so). When neither tells, it is decoded in full.
const LEADING_TYPE = /^\{"id":"[^"\\]*","type":"([a-z_.]+)"/;
export function wanted(message: RawMessage, handles: ReadonlySet<string>): boolean {
  const fromHeader = headerOf(message, 'event-type');
  if (fromHeader !== undefined) return handles.has(fromHeader);
  const prefix = message.value?.toString('utf8', 0, 160) ?? '';
  const type = LEADING_TYPE.exec(prefix)?.[1];
  return type === undefined || handles.has(type);
}

// A dead letter replayed for other projections (`runledger dlq replay`): this
// one applied the original. Skipped like an unwanted type: the offset commits.
export function appliedBefore(message: RawMessage, projection: string): boolean {
  const replayedFor = headerOf(message, REPLAYED_FOR_HEADER);
  return replayedFor !== undefined && !replayedFor.split(',').includes(projection);
}

// A header's (first) value as text; kafkajs gives a repeated header as an array.
function headerOf(message: RawMessage, name: string): string | undefined {
  const header = message.headers?.[name];
  return (Array.isArray(header) ? header[0] : header)?.toString();
}

export function decode(message: RawMessage): { ok: true; event: Event } | { ok: false; reason: string };
export function decode(message: RawMessage, reads: 'event' | 'envelope'): { ok: true; event: EventEnvelope } | { ok: false; reason: string };
export function decode(message: RawMessage, reads: 'event' | 'envelope' = 'event'): { ok: true; event: EventEnvelope } | { ok: false; reason: string } {
  if (!message.value) return { ok: false, reason: 'empty message' };
  const text = message.value.toString('utf8');
  if (reads === 'envelope') {
    const envelope = EventEnvelope.safeParse(envelopeJson(text));
    if (envelope.success) return { ok: true, event: envelope.data };
    // Not the shape ingest writes: read in full below, so a malformed event is still told apart and dead-lettered.
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  const parsed = reads === 'event' ? Event.safeParse(json) : EventEnvelope.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return { ok: false, reason: `not a valid event: ${i ? `${i.path.join('.')} ${i.message}` : 'invalid'}` };
  }
  return { ok: true, event: parsed.data };
}

// The envelope without parsing `data`, which is most of an event's bytes and
// comes last as ingest writes it (domain/events.ts): the text up to the first
// `,"data":` closed with `}`. Inside a JSON string that sequence would have
// escaped quotes, and cut inside a nested object it leaves braces unclosed, so
// any text that parses this way is the envelope's own keys; anything else
// answers undefined and is parsed in full. Flakiness reads only envelopes:
// parsing them alone halves what it allocates per result.
function envelopeJson(text: string): unknown {
  const at = text.indexOf(',"data":');
  if (at < 0) return undefined;
  try {
    return JSON.parse(`${text.slice(0, at)}}`);
  } catch {
    return undefined;
  }
}
