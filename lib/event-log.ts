import CircuitBreaker from 'opossum';
import { Partitioners, type Kafka, type PartitionMetadata, type Producer } from 'kafkajs';
import { AppError } from './errors.ts';
import { Event, partitionKey } from '../schemas/events.ts';
import { metrics } from './metrics.ts';

export type Position = { partition: number; offset: number };
type Message = { key: string; value: string; headers: Record<string, string> };
export type AppendResult = { appended: number; positions: Position[]; error: AppError | null };

// One produce request carries at most this much; a bigger append is sent as
// several, in order (a run's events share a partition, whose batch must stay
// under the topic's max.message.bytes).
const MAX_SEND_BYTES = 4 * 1024 * 1024;

// Appends events to the log and resolves only once Kafka acknowledged them with
// acks=all. If the broker cannot be reached the caller gets a 503 with
// Retry-After; a circuit breaker then fails fast instead of queueing requests
// behind a dead broker.
//
// Sends go one at a time, and a failed send retires the producer. kafkajs hands
// a failed produce request's sequence numbers back (src/producer/sendMessages.js)
// although the broker may have written it (a leader that died before answering):
// the next batch would then carry those numbers, and the broker, taking it for a
// duplicate of what it holds, acknowledges it without storing it. One send at a
// time keeps other batches from taking the numbers while kafkajs retries; a new
// producer (a new producer id) after a failure starts from numbers nobody used.
// test/faults/kafka-leader-failover.test.ts lost an acknowledged batch without this.
export class EventLog {
  private producer: Producer;
  private sending: Promise<unknown> = Promise.resolve();
  private breaker: CircuitBreaker<[Message[]], Position[]>;
  private ready: Promise<PartitionMetadata[]> | null = null;
  private partitioner = Partitioners.DefaultPartitioner();

  constructor(private kafka: Kafka, private topic: string, private timeoutMs: number) {
    this.producer = this.newProducer();
    this.breaker = new CircuitBreaker((messages: Message[]) => this.send(messages), {
      timeout: timeoutMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
      resetTimeout: 5000,
      // A message the broker refuses as too large says nothing about its health.
      errorFilter: (err: unknown) => isTooLarge(err),
    });
  }

  // All or nothing for one request's few events (they fit one produce request).
  async append(events: Event[]): Promise<Position[]> {
    const result = await this.appendInOrder(events);
    if (result.error) throw result.error;
    return result.positions;
  }

  // Appends in order, in produce requests of at most MAX_SEND_BYTES: when one
  // fails, the events before it are stored and the rest are not sent.
  async appendInOrder(events: Event[]): Promise<AppendResult> {
    const positions = new Map<number, number>();
    let appended = 0;
    for (const chunk of chunks(this.messagesOf(events))) {
      const produced = metrics.produceDuration.startTimer();
      try {
        for (const p of await this.breaker.fire(chunk)) positions.set(p.partition, Math.max(p.offset, positions.get(p.partition) ?? -1));
        produced({ outcome: 'ok' });
        for (const msg of chunk) metrics.ingestEvents.inc({ type: msg.headers['event-type'] });
      } catch (err) {
        produced({ outcome: 'error' });
        const error = isTooLarge(err)
          ? new AppError('payload_too_large', 'the event is larger than the log accepts')
          : new AppError('unavailable', 'the event log is unavailable, nothing was stored; retry later', {
            reason: this.breaker.opened ? 'circuit_open' : (err as Error).name,
          }, { 'Retry-After': '5' });
        return { appended, positions: toPositions(positions), error };
      }
      appended += chunk.length;
    }
    return { appended, positions: toPositions(positions), error: null };
  }

  get circuitOpen(): boolean {
    return this.breaker.opened;
  }

  private connect(): Promise<PartitionMetadata[]> {
    this.ready ??= (async () => {
      await this.producer.connect();
      const admin = this.kafka.admin();
      await admin.connect();
      try {
        const meta = await admin.fetchTopicMetadata({ topics: [this.topic] });
        return meta.topics[0]!.partitions;
      } finally {
        await admin.disconnect();
      }
    })().catch((err) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  private messagesOf(events: Event[]): Message[] {
    return events.map((e) => ({ key: partitionKey(e), value: JSON.stringify(e), headers: { 'event-type': e.type, 'event-id': e.id } }));
  }

  private newProducer(): Producer {
    return this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  }

  // In order, one at a time, even when the breaker gave up waiting for the one
  // before. A send whose caller was already answered (the breaker's timeout)
  // while it waited its turn is not made.
  private send(chunk: Message[]): Promise<Position[]> {
    const deadline = Date.now() + this.timeoutMs;
    const sent = this.sending.then(() => {
      if (Date.now() >= deadline) throw new Error('the log did not take the events in time');
      return this.sendNow(chunk);
    });
    this.sending = sent.catch(() => undefined);
    return sent;
  }

  private async sendNow(chunk: Message[]): Promise<Position[]> {
    try {
      return await this.produce(chunk);
    } catch (err) {
      if (!isTooLarge(err)) await this.retireProducer();
      throw err;
    }
  }

  private async retireProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    this.ready = null;
    await old.disconnect().catch(() => undefined);
  }

  private async produce(chunk: Message[]): Promise<Position[]> {
    const partitionMetadata = await this.connect();
    // Partitions are chosen here (Kafka's default murmur2 on the key, as any Java
    // producer would) so we know exactly which offsets our events received.
    const messages = chunk.map((m) => ({
      ...m, partition: this.partitioner({ topic: this.topic, partitionMetadata, message: { key: m.key, value: null } }),
    }));
    const meta = await this.producer.send({ topic: this.topic, acks: -1, messages });
    const counts = new Map<number, number>();
    for (const m of messages) counts.set(m.partition, (counts.get(m.partition) ?? 0) + 1);
    return meta.map((m) => ({ partition: m.partition, offset: Number(m.baseOffset) + (counts.get(m.partition) ?? 1) - 1 }));
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    if (this.ready) await this.producer.disconnect().catch(() => undefined);
  }
}

const isTooLarge = (err: unknown) => (err as { type?: string })?.type === 'MESSAGE_TOO_LARGE';

function* chunks(messages: Message[]): Generator<Message[]> {
  let chunk: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = m.value.length + m.key.length + 64;
    if (chunk.length && bytes + size > MAX_SEND_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += size;
  }
  if (chunk.length) yield chunk;
}

const toPositions = (m: Map<number, number>): Position[] => [...m].map(([partition, offset]) => ({ partition, offset }));

// The read-your-writes token: the last offset written per partition.
export const formatPosition = (positions: Position[]) => positions.map((p) => `${p.partition}:${p.offset}`).join(',');
