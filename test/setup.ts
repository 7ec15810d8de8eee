// Runs in every test file: nothing a test started may outlive it.
import { afterEach } from 'vitest';
import { reapCli } from './cli.ts';

afterEach(async () => {
  await reapCli();
}, 60_000);
