// Operator commands: `ops/runledger <command>` (it builds and runs dist/cli.js),
// with the same RUNLEDGER_* environment as the processes (docs/operations.md).
//
//   rebuild postgres [--keep-old]   replay the log into fresh Postgres read models, then switch
//   rebuild clickhouse [--keep-old] the same for the ClickHouse fact tables
//                                   (both ask for the projector to be stopped for the switch)
//   reset postgres|clickhouse|flakiness
//                                   empty a stopped projection's read models and positions: it replays the log
//                                   (after the topic was re-created, the projector asks for this or a rebuild)
//   dlq list [--json]               the dead letters: reason, step, projection, origin
//   dlq replay (--all | --offset N[,N…]) [--projection NAME] [--step STEP]
//                                   append them to the event log again (after a fix)
import { loadConfig } from '../lib/config.ts';
import { createLogger } from '../lib/logger.ts';
import { createKafka } from '../lib/kafka.ts';
import { rebuildPostgres } from './cli/rebuild.ts';
import { rebuildClickHouse } from './cli/rebuild-clickhouse.ts';
import { RESETTABLE, resetProjection, type Resettable } from './cli/reset.ts';
import { readDeadLetters, replayDeadLetters, type DeadLetterEntry } from './cli/dlq.ts';

const USAGE = `usage: runledger rebuild postgres|clickhouse [--keep-old]
       runledger reset postgres|clickhouse|flakiness
       runledger dlq list [--json]
       runledger dlq replay (--all | --offset N[,N...]) [--projection NAME] [--step STEP]`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return v;
}

class UsageError extends Error {}

const line = (e: DeadLetterEntry) =>
  [`${e.dlqPartition}:${e.dlqOffset}`, e.projection, e.step, `${e.origin.topic}:${e.origin.partition}:${e.origin.offset}`,
    e.eventType ?? '-', e.eventId ?? '-', e.correlationId ?? '-', e.reason].join('\t');

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  const config = loadConfig();
  const logger = createLogger('runledger-cli', config.logLevel);
  if (command === 'rebuild' && sub === 'postgres') {
    const r = await rebuildPostgres(config, logger, { keepOld: rest.includes('--keep-old'), say: (l) => console.log(l) });
    console.log(`postgres read models rebuilt from the log in ${(r.ms / 1000).toFixed(1)} s; switched ${r.switchMs} ms after the projector stopped` +
      (r.old ? `; the previous tables are in schema ${r.old}` : ''));
    return 0;
  }
  if (command === 'rebuild' && sub === 'clickhouse') {
    const r = await rebuildClickHouse(config, logger, { keepOld: rest.includes('--keep-old'), say: (l) => console.log(l) });
    console.log(`clickhouse fact tables rebuilt from the log in ${(r.ms / 1000).toFixed(1)} s; switched ${r.switchMs} ms after the projector stopped` +
      (r.old ? `; the previous tables are in database ${r.old}` : ''));
    return 0;
  }
  if (command === 'reset' && RESETTABLE.includes(sub as Resettable)) {
    await resetProjection(config, sub as Resettable);
    console.log(`the ${sub} projection's read models and positions are empty; start its projector: it replays ${config.topic} from the beginning`);
    return 0;
  }
  if (command === 'dlq' && (sub === 'list' || sub === 'replay')) {
    const kafka = createKafka(config, 'runledger-cli');
    if (sub === 'list') {
      const entries = await readDeadLetters(kafka, config);
      if (rest.includes('--json')) {
        console.log(JSON.stringify(entries.map(({ value, headers, ...e }) => ({ ...e, value: value?.toString('utf8') ?? null })), null, 2));
      } else {
        console.log(['dlq', 'projection', 'step', 'origin', 'type', 'event id', 'correlation id', 'reason'].join('\t'));
        for (const e of entries) console.log(line(e));
        console.log(`${entries.length} dead letter(s) in ${config.dlqTopic}`);
      }
      return 0;
    }
    const offsets = option(rest, '--offset');
    if (!offsets && !rest.includes('--all')) throw new UsageError('dlq replay needs --all or --offset N[,N...]');
    const dlqOffsets = offsets?.split(',').map((x) => {
      if (!/^\d+$/.test(x)) throw new UsageError(`not an offset: ${x}`);
      return Number(x);
    });
    const replayed = await replayDeadLetters(kafka, config, { dlqOffsets, projection: option(rest, '--projection'), step: option(rest, '--step') });
    for (const e of replayed) console.log(`replayed ${line(e)}\tfor ${e.replayedFor.join(',')}`);
    console.log(`${replayed.length} event(s) appended to ${config.topic}`);
    return 0;
  }
  throw new UsageError(command ? `unknown command: ${argv.join(' ')}` : 'no command');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`runledger: ${(err as Error).message}`);
    process.exit(1);
  },
);
