/**
 * Three projects: `unit` (pure core, no servers), `integration` (workflow and end-to-end tests on
 * one real Temporal dev server per run, started in globalSetup, and the real Docker engine) and
 * `cluster` (end-to-end tests on a real Temporal cluster with PostgreSQL, brought up by
 * `berth cluster up` in its globalSetup). Run with --runInBand on 2 cores.
 */
const transform = { '^.+\\.ts$': 'ts-jest' };
module.exports = {
  testTimeout: 180000,
  forceExit: true,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts', '<rootDir>/test/e2e/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      displayName: 'cluster',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
      globalSetup: '<rootDir>/test/cluster/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/cluster/support/global-teardown.ts',
    },
  ],
};
