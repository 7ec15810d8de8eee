#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npx statebench` works from a clone
// without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../harness/cli.ts');
await main(process.argv);
