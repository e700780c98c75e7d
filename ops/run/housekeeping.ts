// The housekeeping process: retention and expiry sweeps on RUNLEDGER_HOUSEKEEPING_CRON
// (ops/housekeeping/housekeeper.ts). `housekeeping.ts --once` sweeps once and exits.
import cron from 'node-cron';
import { loadConfig } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { createPool } from '../../lib/pg.ts';
import { ClickHouse } from '../../lib/clickhouse.ts';
import { createKafka } from '../../lib/kafka.ts';
import { EventLog } from '../../lib/event-log.ts';
import { Housekeeper } from '../housekeeping/housekeeper.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger('housekeeping', config.logLevel);
const pool = createPool(config.pgUrl, 4);
const ch = ClickHouse.connect(config.clickhouseUrl, config.clickhouseDb);
const eventLog = new EventLog(createKafka(config, 'runledger-housekeeping'), config.topic, config.kafkaTimeoutMs);
const housekeeper = new Housekeeper(pool, ch, eventLog, logger, {
  batchSize: config.housekeepingBatchSize, idempotencyTtlSeconds: config.idempotencyTtlSeconds,
});
const close = async () => {
  await eventLog.close();
  await Promise.all([pool.end(), ch.close()]);
};

if (process.argv.includes('--once')) {
  let code = 0;
  try {
    console.log(JSON.stringify(await housekeeper.sweep()));
  } catch (err) {
    logger.error({ err }, 'housekeeping sweep failed');
    code = 1;
  }
  await close();
  process.exit(code);
}

// A sweep left half-way (Kafka away, a crash) is finished by the next one.
const task = cron.schedule(config.housekeepingCron, async () => {
  try {
    await housekeeper.sweep();
  } catch (err) {
    logger.error({ err }, 'housekeeping sweep failed; the next one resumes it');
  }
}, { name: 'housekeeping', noOverlap: true, timezone: 'UTC' });
logger.info({ cron: config.housekeepingCron, next: task.getNextRun() }, 'housekeeping scheduled');

onShutdown(logger, async () => {
  await task.stop();
  await close();
});
