// The layer rule (scripts/eslint-layers.mjs) run by ESLint itself on small sources: an
// import that runs back up the tree fails `npm run check`, with what may not import what.
import { describe, expect, test } from '@jest/globals';
import * as path from 'node:path';
import { Linter } from 'eslint';
import { ROOT } from '../config/target.ts';
// @ts-expect-error: a plain ES module for ESLint, without type declarations
import layers from '../../scripts/eslint-layers.mjs';

const lint = (file: string, code: string): string[] =>
  new Linter({ configType: 'flat' })
    .verify(code, [{ files: ['**/*.ts'], plugins: { layers }, rules: { 'layers/one-way': 'error' } }], { filename: path.join(ROOT, file) })
    .map((m) => m.message);

describe('imports run one way', () => {
  test('a layer may import itself and the layers below it', () => {
    expect(
      lint(
        'helpers/harness/check.ts',
        "import { kube } from '../cluster/kube.ts';\nimport { src } from '../../suites/data/sources.ts';\nimport { x } from './suite.ts';",
      ),
    ).toEqual([]);
    expect(
      lint(
        'suites/clusterip.test.ts',
        "import { check } from '../helpers/harness/check.ts';\nimport { outside } from '../helpers/targets/outside.ts';",
      ),
    ).toEqual([]);
  });

  test('an import that runs back up fails, saying which layer may not import which', () => {
    expect(lint('helpers/cluster/kube.ts', "import { check } from '../harness/check.ts';")).toEqual([
      'imports run one way (docs/contributing.md, "Layout"): helpers/cluster/ (cluster access) may not import ' +
        'helpers/harness/check.ts in helpers/harness/ (the check harness), a layer above it',
    ]);
    expect(lint('suites/data/sources.ts', "export { kube } from '../../helpers/cluster/kube.ts';")).toHaveLength(1);
    // The registry imports the suite files, which the harness serves: the harness may not import it.
    expect(lint('helpers/harness/suite.ts', "import { REGISTRY } from '../../suites/registry.ts';")).toHaveLength(1);
    expect(lint('suites/headless.test.ts', "const m = await import('../helpers/cli/cli.ts');")).toHaveLength(1);
  });

  test('unit tests next to a module are leaves and may import anything', () => {
    expect(lint('helpers/lib/dns.test.ts', "import { ROOT } from '../cluster/apply.ts';")).toEqual([]);
  });
});
