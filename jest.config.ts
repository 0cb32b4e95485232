// Four projects: `unit` (parsers and helpers, fed with captured real output), `cluster`
// (the conformance suites, suites/*.test.ts, against a real cluster), and the tool's own
// end-to-end tests (helpers/e2e/): `runner` (the CLI against the bundled cluster) and
// `lifecycle` (cluster up/down, the matrix, the kind target). Run through scripts/test.sh,
// which resolves the target cluster first.
import type { Config } from 'jest';

const transform: Config['transform'] = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
};
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  testEnvironment: 'node',
};

const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/helpers/**/*.test.ts', '<rootDir>/probe/**/*.test.ts', '<rootDir>/suites/data/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/helpers/e2e/'],
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/suites/*.test.ts'],
      globalSetup: '<rootDir>/helpers/harness/global-setup.ts',
      globalTeardown: '<rootDir>/helpers/harness/global-teardown.ts',
      slowTestThreshold: 60,
    },
    {
      ...common,
      displayName: 'runner',
      testMatch: ['<rootDir>/helpers/e2e/*.test.ts'],
      globalSetup: '<rootDir>/helpers/harness/global-setup.ts',
    },
    {
      ...common,
      displayName: 'lifecycle',
      testMatch: ['<rootDir>/helpers/e2e/lifecycle/*.test.ts'],
    },
  ],
  // Above the sum of the bounded waits a check can make (the proxy bound is 120 s), so a
  // slow cluster fails with "not converged within N ms", never with a Jest timeout.
  testTimeout: 600_000,
  maxWorkers: 3,
};

export default config;
