// ESLint (flat config) over src/ and test/ with type information from tsconfig.test.json. The rules are the ones
// that catch real bugs here: a promise nobody awaits or handles (a failure that vanishes, or work that outlives its
// caller), and a promise passed where nothing will wait for it.
import tseslint from 'typescript-eslint';

export default [
  { ignores: ['dist/**', 'dist-bench/**', 'node_modules/**', 'bench/**', 'test/fixtures/**', '**/*.js', '**/*.mjs'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    // Only the rules below are on: a directive that silences another typescript-eslint rule is not an error.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
];
