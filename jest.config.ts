// Two projects: `unit` (parsers and helpers, fed with captured real output) and
// `cluster` (the conformance suites, against a real cluster). Run through
// scripts/test.sh, which resolves the target cluster first.
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
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/helpers/**/*.test.ts', '<rootDir>/probe/**/*.test.ts'] },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/suites/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/suites/lifecycle/', '<rootDir>/suites/runner/'],
      globalSetup: '<rootDir>/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/helpers/global-teardown.ts',
      slowTestThreshold: 60,
    },
    {
      ...common,
      displayName: 'runner',
      testMatch: ['<rootDir>/suites/runner/**/*.test.ts'],
      globalSetup: '<rootDir>/helpers/global-setup.ts',
    },
    {
      ...common,
      displayName: 'lifecycle',
      testMatch: ['<rootDir>/suites/lifecycle/**/*.test.ts'],
    },
  ],
  // Above the sum of the bounded waits a check can make (the proxy bound is 120 s), so a
  // slow cluster fails with "not converged within N ms", never with a Jest timeout.
  testTimeout: 600_000,
  maxWorkers: 3,
};

export default config;
