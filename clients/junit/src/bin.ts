#!/usr/bin/env node
// The `runledger` command. `--version` answers before anything else loads, so the
// cheapest call costs little more than Node's own start.
import { VERSION } from './version.ts';

const argv = process.argv.slice(2);
if (argv[0] === '--version' || argv[0] === '-v') {
  process.stdout.write(`${VERSION}\n`);
} else {
  const { main } = await import('./cli.ts');
  process.exitCode = await main(argv).catch((e: unknown) => {
    process.stderr.write(`runledger: ${(e as Error).stack ?? String(e)}\n`);
    return 3;
  });
}
