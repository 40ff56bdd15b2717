/**
 * Two projects: `unit` (pure core, no servers) and `integration` (workflow and end-to-end tests on
 * one real Temporal dev server per run, started in globalSetup, and the real Docker engine).
 * Run with --runInBand on 2 cores.
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
  ],
};
