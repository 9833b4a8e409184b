import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/.data/**', 'test-results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // The code runs with noUncheckedIndexedAccess and writes `!` where an index or key is known to exist.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Numbers and booleans read fine in messages; what stays refused is objects, nullish values and `any`. URLSearchParams
      // prints as its query, as the rule's default allows, but Node's types (not lib) declare it here.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        {
          allowNumber: true,
          allowBoolean: true,
          allow: [
            { from: 'lib', name: ['Error', 'URL', 'URLSearchParams'] },
            { from: 'package', package: '@types/node', name: 'URLSearchParams' },
          ],
        },
      ],
      // `(x) => voidCall()` and `return voidCall()` in a function that returns void are the code's shorthand for "do this, then stop".
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // `async` marks what implements a promise-returning interface (oidc-provider adapters and policies, stores, MCP handlers),
      // so a throw stays a rejection; an `await` is not required to make that deliberate.
      '@typescript-eslint/require-await': 'off',
      // The members deleted are a JSON document's (metadata, a stored file's records), which must stay plain objects, not Maps.
      '@typescript-eslint/no-dynamic-delete': 'off',
      // A leading underscore marks what is unused on purpose: a parameter a callback's signature imposes, a member left out of a rest.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/test/**/*.ts'],
    rules: {
      // Vitest types its asymmetric matchers (expect.stringContaining, expect.any, …) as `any`; using an `any` stays refused
      // by no-unsafe-member-access, -call, -argument and -return.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // What beforeAll starts is declared `let x: T` and torn down with `x?.close()`, so a failed setup reports its own error,
      // not a TypeError from the teardown; and flags set by callbacks read as constants to the type checker.
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    // The rendered Kubernetes manifests are schemaless YAML, validated against kubernetes-models and then read field by
    // field: typing every path would restate the schemas the test already checks them against.
    files: ['deploy/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (this file, scripts/require-node.mjs) is outside every tsconfig: lint it without types.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
