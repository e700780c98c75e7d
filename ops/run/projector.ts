// A projector process: `projector.ts postgres|clickhouse`.
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { startProjection } from '../../app/projectors.ts';
import { PROJECTION_NAMES, type ProjectionName } from '../../lib/consumer-groups.ts';
import { TopicRecreatedError } from '../../projections/kafka/topic-identity.ts';
import { onShutdown } from './shutdown.ts';
import { serveMetrics } from '../../lib/metrics.ts';

const name = process.argv[2] as ProjectionName;
if (!PROJECTION_NAMES.includes(name)) {
  console.error(`usage: projector.ts ${PROJECTION_NAMES.join('|')}`);
  process.exit(2);
}
const config = loadConfig();
const logger = createLogger(`projector-${name}`, config.logLevel);
// A projector that refuses to start tells the operator why and what to do, in
// its log and on stderr. Exit status 78 (EX_CONFIG): restarting will not help.
const starting = startProjection(name, config, logger).catch((err: Error) => {
  logger.fatal({ err }, err.message);
  console.error(`projector-${name}: ${err.message}`);
  process.exit(err instanceof TopicRecreatedError ? 78 : 1);
});
// Installed before the start completes (reading the topic's identity can take a
// while): a SIGTERM during start-up waits for it, then stops cleanly.
let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
onShutdown(logger, async () => {
  const running = await starting;
  metricsServer?.close();
  await running.stop();
});
const running = await starting;
metricsServer = await serveMetrics(config.host, config.metricsPort);
logger.info({ projection: name, topic: config.topic, metricsPort: config.metricsPort || null }, 'projector running');

// kafkajs restarts a crashed consumer itself; if it gives up, exit so the
// supervisor (ops/up, systemd, the orchestrator) starts a fresh process.
running.consumer.on(running.consumer.events.CRASH, (e) => {
  if (!e.payload.restart) {
    logger.error({ err: e.payload.error }, 'consumer crashed for good');
    process.exit(1);
  }
});
