// Four projects: `unit` (parsers and helpers, fed with captured real output), `cluster`
// (the conformance suites, suites/*.test.ts, against a real cluster; the same project the
// CLI gives Jest: helpers/config/jest.ts), and the tool's own end-to-end tests
// (helpers/e2e/): `runner` (the CLI against the bundled cluster) and `lifecycle` (cluster
// up/down, the matrix, the kind target). Run through scripts/test.sh, which resolves the
// target cluster first.
import type { Config } from 'jest';
import { clusterProject, TEST_TIMEOUT_MS } from './helpers/config/jest.ts';

const cluster = clusterProject();
const common = {
  transform: cluster.transform as Config['transform'],
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
    cluster,
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
  testTimeout: TEST_TIMEOUT_MS,
  maxWorkers: 3,
  // The longest suites first, as the CLI's runs order them (helpers/harness/sequencer.ts).
  testSequencer: '<rootDir>/helpers/harness/sequencer.ts',
};

export default config;
