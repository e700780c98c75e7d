// The API process: ingest and query routes on one port.
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPool } from '../../lib/pg.ts';
import { ClickHouse } from '../../lib/clickhouse.ts';
import { createKafka } from '../../lib/kafka.ts';
import { createApp } from '../../app/api.ts';
import { EventLog } from '../../lib/event-log.ts';
import { LocalBlobStore } from '../../lib/blobs/blob-store.ts';
import { STAGING_PREFIX } from '../../ingest/uploads.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger('api', config.logLevel);
const pool = createPool(config.pgUrl, 20);
const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
const kafka = createKafka(config, 'runledger-api');
const eventLog = new EventLog(kafka, config.topic, config.kafkaTimeoutMs);
const blobs = new LocalBlobStore(config.blobDir);
// Uploads that died half-way (a crash between receiving and appending) leave staged files.
blobs.sweep(STAGING_PREFIX, 24 * 3600 * 1000).catch((err) => logger.warn({ err }, 'could not sweep staged uploads'));
const app = createApp({ config, pool, ch, kafka, eventLog, logger, blobs });

const server = app.listen(config.port, config.host, () => {
  logger.info({ url: `http://${config.host}:${config.port}` }, 'api listening');
});

onShutdown(logger, async () => {
  // Stop accepting, let in-flight requests finish, then close clients.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await app.close(); // writes the API keys' lastUsedAt it still holds
  await eventLog.close();
  await Promise.all([pool.end(), ch.close()]);
});
