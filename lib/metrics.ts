import { createServer, type Server } from 'node:http';
import client from 'prom-client';

// Prometheus metrics of this process, in a registry of this module's own (a
// second evaluation of the module, as a test runner's projects cause, then
// builds a second registry instead of colliding in prom-client's global one). Every
// process (API, each projector) exposes its own: the API on GET /metrics, a
// projector on RUNLEDGER_METRICS_PORT. Pull per process is what Prometheus
// expects; counters pushed into one shared registry would be summed wrongly
// across restarts and instances (docs/operations.md).
export const registry = new client.Registry();
client.collectDefaultMetrics({ prefix: 'runledger_', register: registry });

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  httpRequests: new client.Counter({
    registers: [registry],
    name: 'runledger_http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
  }),
  httpDuration: new client.Histogram({
    registers: [registry],
    name: 'runledger_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: latencyBuckets,
  }),
  ingestEvents: new client.Counter({
    registers: [registry],
    name: 'runledger_ingest_events_total',
    help: 'Events appended to the log and acknowledged by Kafka, by type (rate() gives events/s)',
    labelNames: ['type'] as const,
  }),
  produceDuration: new client.Histogram({
    registers: [registry],
    name: 'runledger_kafka_produce_duration_seconds',
    help: 'Time from append to acks=all acknowledgement, by outcome',
    labelNames: ['outcome'] as const,
    buckets: latencyBuckets,
  }),
  batchSize: new client.Histogram({
    registers: [registry],
    name: 'runledger_consumer_batch_size',
    help: 'Messages per consumed batch',
    labelNames: ['projection'] as const,
    buckets: [1, 10, 50, 100, 500, 1000, 5000, 10000, 50000],
  }),
  batchDuration: new client.Histogram({
    registers: [registry],
    name: 'runledger_consumer_batch_processing_seconds',
    help: 'Time a projection took to apply a batch (its sink write included)',
    labelNames: ['projection'] as const,
    buckets: latencyBuckets,
  }),
  commitDuration: new client.Histogram({
    registers: [registry],
    name: 'runledger_consumer_commit_seconds',
    help: 'Time to commit a batch offset to Kafka after the sink acknowledged',
    labelNames: ['projection'] as const,
    buckets: latencyBuckets,
  }),
  consumerLag: new client.Gauge({
    registers: [registry],
    name: 'runledger_consumer_lag',
    help: 'Messages behind the partition end after the last applied batch',
    labelNames: ['projection', 'partition'] as const,
  }),
  deadLetters: new client.Counter({
    registers: [registry],
    name: 'runledger_dead_letters_total',
    help: 'Events published to the dead-letter topic, by projection and step',
    labelNames: ['projection', 'step'] as const,
  }),
  // The three below are read from Postgres (projection_progress) by the API when
  // it is scraped: projectors are other processes, and this is what all of them wrote.
  projectionSinceCommit: new client.Gauge({
    registers: [registry],
    name: 'runledger_projection_seconds_since_last_commit',
    help: 'Seconds since any instance of the projection last committed a batch (absent before the first commit)',
    labelNames: ['projection'] as const,
  }),
  projectionBatchFailures: new client.Counter({
    registers: [registry],
    name: 'runledger_projection_batch_failures_total',
    help: 'Failed batch attempts of the projection, every instance and partition, since the deployment began',
    labelNames: ['projection'] as const,
  }),
  projectionRetries: new client.Gauge({
    registers: [registry],
    name: 'runledger_projection_batch_retries',
    help: 'Failed attempts of the batch the projection is stuck on (the most over its partitions; 0 once it commits)',
    labelNames: ['projection'] as const,
  }),
  dbDuration: new client.Histogram({
    registers: [registry],
    name: 'runledger_db_query_duration_seconds',
    help: 'Query duration by store (postgres, clickhouse), operation and outcome',
    labelNames: ['store', 'op', 'outcome'] as const,
    buckets: latencyBuckets,
  }),
  webhookDeliveries: new client.Counter({
    registers: [registry],
    name: 'runledger_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome (delivered, retry, failed, gone, circuit_open)',
    labelNames: ['outcome'] as const,
  }),
  webhookDuration: new client.Histogram({
    registers: [registry],
    name: 'runledger_webhook_attempt_seconds',
    help: 'Duration of webhook delivery attempts, from the SSRF check to the response or timeout',
    buckets: latencyBuckets,
  }),
};

// Times a promise into a histogram, labelled with its outcome.
export async function timed<T>(observe: (seconds: number, outcome: 'ok' | 'error') => void, fn: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const result = await fn();
    observe(seconds(), 'ok');
    return result;
  } catch (err) {
    observe(seconds(), 'error');
    throw err;
  }
}

export const PROMETHEUS_CONTENT_TYPE = registry.contentType;

// A projector's own /metrics endpoint (port 0 = off).
export async function serveMetrics(host: string, port: number): Promise<Server | null> {
  if (!port) return null;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(text),
        () => res.writeHead(500).end(),
      );
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  return server;
}
