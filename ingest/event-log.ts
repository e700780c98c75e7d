import CircuitBreaker from 'opossum';
import { Partitioners, type Kafka, type PartitionMetadata, type Producer } from 'kafkajs';
import { AppError } from '../lib/errors.ts';
import { Event, partitionKey } from '../schemas/events.ts';

export type Position = { partition: number; offset: number };

// Appends events to the log and resolves only once Kafka acknowledged them with
// acks=all. If the broker cannot be reached the caller gets a 503 with
// Retry-After; a circuit breaker then fails fast instead of queueing requests
// behind a dead broker.
export class EventLog {
  private producer: Producer;
  private breaker: CircuitBreaker<[Event[]], Position[]>;
  private ready: Promise<PartitionMetadata[]> | null = null;
  private partitioner = Partitioners.DefaultPartitioner();

  constructor(private kafka: Kafka, private topic: string, timeoutMs: number) {
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.breaker = new CircuitBreaker((events: Event[]) => this.send(events), {
      timeout: timeoutMs,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
      resetTimeout: 5000,
      // A message the broker refuses as too large says nothing about its health.
      errorFilter: (err: unknown) => isTooLarge(err),
    });
  }

  async append(events: Event[]): Promise<Position[]> {
    if (events.length === 0) return [];
    try {
      return await this.breaker.fire(events);
    } catch (err) {
      if (isTooLarge(err)) throw new AppError('payload_too_large', 'the event is larger than the log accepts');
      throw new AppError('unavailable', 'the event log is unavailable, nothing was stored; retry later', {
        reason: this.breaker.opened ? 'circuit_open' : (err as Error).name,
      }, { 'Retry-After': '5' });
    }
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

  private async send(events: Event[]): Promise<Position[]> {
    const partitionMetadata = await this.connect();
    // Partitions are chosen here (Kafka's default murmur2 on the key, as any Java
    // producer would) so we know exactly which offsets our events received.
    const messages = events.map((e) => {
      const key = partitionKey(e);
      const partition = this.partitioner({ topic: this.topic, partitionMetadata, message: { key, value: null } });
      return { key, partition, value: JSON.stringify(e), headers: { 'event-type': e.type, 'event-id': e.id } };
    });
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

// The read-your-writes token: the last offset written per partition.
export const formatPosition = (positions: Position[]) => positions.map((p) => `${p.partition}:${p.offset}`).join(',');
