// Where a rank of a multi-process test leaves its measurements (collectives' test/spawn.ts reads them).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function report(value: unknown): void {
  writeFileSync(join(process.env.TESSERA_TEST_OUT as string, `report-${process.env.TESSERA_TEST_ID}.json`), JSON.stringify(value));
}
