import { parseArgs } from 'node:util';
import { EXIT, uploadJUnit } from './upload.ts';

const USAGE = `Usage: runledger upload-junit [options] <file or glob>...

Sends JUnit XML reports to Runledger as one run (shards of one CI build join one run).

Options:
  --url <url>               API base URL (or RUNLEDGER_URL)
  --api-key <key>           project API key (or RUNLEDGER_API_KEY)
  --project-id <id>         the project (default: the API key's project)
  --variant <name>          test case variant, e.g. a browser or platform (default: none)
  --root <dir>              file paths are made relative to this directory (default: cwd)
  --title <text>            run title
  --tag <tag>               run tag (repeatable)
  --shard <i/n>             this upload is shard i of n (with a CI build id or --build-id)
  --build-id <id>           CI build id shared by the shards (default: detected from CI)
  --fail-on-unquarantined   exit 1 when a test failed that is not quarantined
  --dry-run                 parse and print what would be sent; send nothing
  --timeout <seconds>       keep retrying an unreachable API this long (default 120)
  -h, --help

Exit codes: 0 sent (and, with --fail-on-unquarantined, no unquarantined failure);
1 a failure that is not quarantined; 2 bad arguments or a file that is not a valid
JUnit report (nothing sent); 3 the API could not take everything.`;

export async function main(argv: string[], env = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? EXIT.ok : EXIT.badInput;
  }
  if (command !== 'upload-junit') {
    process.stderr.write(`runledger: unknown command '${command}'\n\n${USAGE}\n`);
    return EXIT.badInput;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        url: { type: 'string' }, 'api-key': { type: 'string' }, 'project-id': { type: 'string' }, variant: { type: 'string' },
        root: { type: 'string' }, title: { type: 'string' }, tag: { type: 'string', multiple: true }, shard: { type: 'string' },
        'build-id': { type: 'string' }, 'fail-on-unquarantined': { type: 'boolean' }, 'dry-run': { type: 'boolean' },
        timeout: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    process.stderr.write(`runledger: ${(e as Error).message}\n\n${USAGE}\n`);
    return EXIT.badInput;
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  let shard: { current: number; total: number } | undefined;
  if (v.shard) {
    const m = /^(\d+)\/(\d+)$/.exec(v.shard);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > Number(m[2])) {
      process.stderr.write(`runledger: --shard takes i/n with 1 <= i <= n, not '${v.shard}'\n`);
      return EXIT.badInput;
    }
    shard = { current: Number(m[1]), total: Number(m[2]) };
  }
  const result = await uploadJUnit({
    patterns: parsed.positionals,
    url: v.url, apiKey: v['api-key'], projectId: v['project-id'], variant: v.variant, root: v.root, runTitle: v.title, tags: v.tag,
    shard, dryRun: v['dry-run'], failOnUnquarantined: v['fail-on-unquarantined'],
    sendTimeoutMs: v.timeout ? Number(v.timeout) * 1000 : undefined,
    env: v['build-id'] ? { ...env, RUNLEDGER_BUILD_ID: v['build-id'] } : env,
  });
  return result.exitCode;
}
