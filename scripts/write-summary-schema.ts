// Regenerates harness/report/summary.schema.json from the zod definition.
import { writeFileSync } from 'node:fs';
import { summaryJsonSchema } from '../harness/model/summary.ts';

writeFileSync(new URL('../harness/report/summary.schema.json', import.meta.url), JSON.stringify(summaryJsonSchema(), null, 2) + '\n');
