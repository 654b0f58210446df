import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { secretProviderCases } from '../../conformance/kit/index.ts';
import { describeCases } from '../../conformance/kit/vitest.ts';
import { tempDirForSuite } from '../../core/test-support/tmp.ts';
import file from './index.ts';

const basePath = tempDirForSuite();

describeCases(
  'file: conformance',
  secretProviderCases(file, {
    config: { base_path: basePath },
    seed: (path, value) => writeFile(join(basePath, path), value),
  }),
);
