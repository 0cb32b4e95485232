// How Jest runs the conformance suites, in the repository (TypeScript through @swc/jest)
// and in the installed package (the compiled JavaScript in dist/, no transform). Shared by
// jest.config.ts (`npm test -- suites/...`) and the CLI, which gives Jest this project as
// its whole config, so that the installed package needs no jest.config.ts.
import { createRequire } from 'node:module';
import { CODE_EXT } from './target.ts';

const compiled = CODE_EXT === '.js';

/** The `cluster` project: the suites, with the harness's global setup and teardown. */
export function clusterProject(rootDir?: string): Record<string, unknown> {
  return {
    ...(rootDir ? { rootDir } : {}),
    displayName: 'cluster',
    testEnvironment: 'node',
    testMatch: [`<rootDir>/suites/*.test${CODE_EXT}`],
    globalSetup: `<rootDir>/helpers/harness/global-setup${CODE_EXT}`,
    globalTeardown: `<rootDir>/helpers/harness/global-teardown${CODE_EXT}`,
    slowTestThreshold: 60,
    ...(compiled
      ? // Installed, the package is under node_modules/, which Jest leaves out by default.
        { transform: {}, testPathIgnorePatterns: [], haste: { retainAllFiles: true } }
      : {
          transform: {
            '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
          },
          extensionsToTreatAsEsm: ['.ts'],
        }),
  };
}

/** Above the sum of the bounded waits a check can make (the proxy bound is 120 s), so a
 *  slow cluster fails with "not converged within N ms", never with a Jest timeout. */
export const TEST_TIMEOUT_MS = 600_000;

/** Jest's own command, found by module resolution (wherever npm put it). */
export const jestBin = (): string => createRequire(import.meta.url).resolve('jest/bin/jest');
