import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['test/summary-reporter.cjs', 'node_modules/', '.serverless/', '.esbuild/', '.ami-factory/', 'coverage/', 'dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-throw-literal': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        performance: 'readonly',
      },
    },
  },
  {
    // One clock (functions/lib/clock.ts): the local cloud runs the handlers on a simulated one.
    files: ['functions/**/*.ts'],
    ignores: ['functions/lib/clock.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Read the time through functions/lib/clock.ts (clock().now() or now()).' },
        { object: 'performance', property: 'now', message: 'Read the time through functions/lib/clock.ts (clock().now()).' },
        { object: 'process', property: 'hrtime', message: 'Read the time through functions/lib/clock.ts (clock().now()).' },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Read the time through functions/lib/clock.ts (now()); new Date(x) of a given time is fine.',
        },
        {
          selector: "CallExpression[callee.name='Date']",
          message: 'Date() is the current time as a string: use now() from functions/lib/clock.ts.',
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
