#!/usr/bin/env node
// The `runledger` command: the TypeScript CLI run through tsx's loader, resolved
// from this package (see docs/clients.md for publishing compiled JavaScript instead).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
