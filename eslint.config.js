// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Packages may use each other only through their published entry points (`@ims-token/x`, `@ims-token/core/cache`), never their files. */
const entryPointsOnly = {
  patterns: [
    {
      group: ['@ims-token/*/*', '!@ims-token/*/package.json', '!@ims-token/core/cache'],
      message: 'Import the package entry point (e.g. `@ims-token/core`), never its files: adapters see only what users see.',
    },
    {
      group: ['**/core/src/**', '**/core/dist/**', '../../core/**', '../core/**', '**/packages/*/src/**', '**/packages/*/dist/**'],
      message: 'Reach another package only through its name (`@ims-token/core`), not a relative path into it.',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/.turbo/**',
      '**/coverage/**',
      '.reports/**',
      'packed/**',
      '.node-matrix/**',
      'tests/docs/.samples/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    rules: {
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-import-type-side-effects': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', entryPointsOnly],
    },
  },
  {
    // The CLI's warm-cache launcher (the bin, and what it loads) answers before core is loaded: node built-ins and
    // the built-ins-only `@ims-token/core/cache` only. Whatever needs core lives outside packages/cli/src/launcher/.
    files: ['packages/cli/src/launcher/**/*.ts', 'packages/cli/src/cli.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@ims-token/core',
              allowTypeImports: true,
              message: 'The launcher must not load core (zod, undici): use `@ims-token/core/cache`, or move the code out of launcher/.',
            },
          ],
          patterns: [
            ...entryPointsOnly.patterns,
            {
              group: ['../*', '!../launcher/*'],
              allowTypeImports: true,
              message: 'Launcher modules import only each other (the rest of the CLI loads core).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test/**'],
    rules: {
      '@typescript-eslint/explicit-module-boundary-types': 'error',
    },
  },
  {
    files: ['**/*.test.ts', '**/test/**/*.ts', 'bench/**'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: globals.node },
  },
);
