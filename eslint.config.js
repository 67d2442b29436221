// ESLint over the whole house (npm test runs it): typescript-eslint's recommended rules with type information,
// floating promises refused everywhere, and domain/ kept free of the clock, randomness and timers (time and ids
// are passed in).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.tools/', 'dist/', 'bench/scratch/', 'bench/delivery/proposals/', 'test/histories/*.json'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Rows from PostgreSQL and JSON bodies in tests are `any` on purpose (mapped to types at one place each): the
      // no-unsafe-* family would flag every such read, so it is off; explicit `any` is allowed for the same reason.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // async functions without an await are how activities, handlers and sources meet their interfaces
      '@typescript-eslint/require-await': 'off',
      // a cast of a query's result is how this house types rows; the rule's generic-argument advice is style only
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowNever: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'domain/ reads no clock: pass the time in' },
        { object: 'Math', property: 'random', message: 'domain/ draws no random numbers: pass them in' },
        { object: 'performance', property: 'now', message: 'domain/ reads no clock: pass the time in' }],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'domain/ reads no clock: pass the time in' }],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'setImmediate'],
    },
  },
  // tests hand activities (methods of the factories' objects, which never use `this`) to the SDK's environments
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/unbound-method': 'off' } },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], languageOptions: { globals: globals.node } },
  // the hosted pages' scripts run in the browser, as classic scripts
  { files: ['api/pages/assets/**/*.js'], languageOptions: { sourceType: 'script', globals: globals.browser } },
);
