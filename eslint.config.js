import tseslint from 'typescript-eslint';
import layers from './scripts/eslint-layers.mjs';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'reports/**', 'probe/build.mjs'] },
  ...tseslint.configs.recommended,
  { files: ['bin/**/*.cjs'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    plugins: { layers },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // The layered tree (docs/contributing.md, "Layout"): imports run one way.
      'layers/one-way': 'error',
    },
  },
);
