import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Import direction (docs/ARCHITECTURE.md): an inner layer never imports an outer one.
 *   src/core → workflows/api (contracts) → src/clients → src/adapters → activities
 *   workflows (implementations: core, contracts, activities as types only)
 *   src/runtime, src/cli (everything but workflow implementations)
 * Each rule below matches the import specifier as written (relative paths), so a layer is named by
 * its folder anywhere in the path.
 */
const layer = (folder, why) => ({ regex: `(^|/)${folder}(/|$)`, message: why });
const WORKFLOW_IMPLEMENTATIONS = {
  regex: '(^|/)workflows(/(?!api(/|$)).*)?$',
  message: 'import the contract in workflows/api/ instead: only the worker bundle loads workflow code.',
};
const restrict = (...patterns) => ['error', { patterns }];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.berth/**', 'bin/**', 'jest.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The domain core and workflows must stay deterministic: no I/O, clocks or randomness.
    files: ['src/core/**/*.ts', 'workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'fs',
            'node:*',
            'child_process',
            'os',
            'net',
            'dockerode',
            'ssh2',
            '../adapters/*',
            '*/adapters/*',
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'The core is deterministic.' },
        { object: 'Date', property: 'now', message: 'The core is deterministic.' },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(
        layer(
          'workflows',
          'the pure core is the innermost layer: it imports nothing of Berth outside src/core.',
        ),
        layer('activities', 'the pure core is the innermost layer.'),
        layer('clients', 'the pure core is the innermost layer.'),
        layer('cli', 'the pure core is the innermost layer.'),
        layer('runtime', 'the pure core is the innermost layer.'),
      ),
    },
  },
  {
    files: ['workflows/api/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict({
        regex: '^\\.\\./(?!\\.\\./src/core/)',
        message: 'a contract imports only other contracts (./x) and the pure core (../../src/core/).',
      }),
    },
  },
  {
    files: ['src/clients/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(
        WORKFLOW_IMPLEMENTATIONS,
        layer(
          'adapters',
          'clients sit below the adapters: they take a Client and a task queue, nothing more.',
        ),
        layer('activities', 'activities use clients, not the other way round.'),
        layer('cli', 'the CLI uses clients, not the other way round.'),
        layer('runtime', 'the runtime uses clients, not the other way round.'),
      ),
    },
  },
  {
    files: ['src/adapters/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(
        WORKFLOW_IMPLEMENTATIONS,
        layer('activities', 'activities use adapters, not the other way round.'),
        layer('cli', 'the CLI uses adapters, not the other way round.'),
        layer('runtime', 'the runtime uses adapters, not the other way round.'),
      ),
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(
        WORKFLOW_IMPLEMENTATIONS,
        layer('cli', 'activities never reach the CLI.'),
        layer('runtime', 'the runtime registers activities, not the other way round.'),
      ),
    },
  },
  {
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/api/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(
        {
          ...layer(
            'activities',
            'workflows call activities through proxyActivities: import their types only.',
          ),
          allowTypeImports: true,
        },
        layer(
          'clients',
          'workflows talk to other workflows through the SDK (signals, children), not clients.',
        ),
        layer('cli', 'workflows never reach the CLI.'),
        layer('runtime', 'workflows never reach the runtime.'),
      ),
    },
  },
  {
    files: ['src/runtime/**/*.ts', 'src/cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(WORKFLOW_IMPLEMENTATIONS),
    },
  },
  {
    files: ['src/runtime/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': restrict(
        WORKFLOW_IMPLEMENTATIONS,
        layer('cli', 'the CLI starts the runtime, not the other way round.'),
      ),
    },
  },
);
