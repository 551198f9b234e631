/** Tests are TypeScript, transpiled per file (no cross-file type check: `npm run build` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }] },
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
};
