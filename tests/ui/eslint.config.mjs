// ESLint's flat config for the project's JavaScript, run by
// scripts/lint-js.sh with --config from the repository root, so the file
// patterns below are relative to the root (and the packages resolve from
// tests/ui/node_modules).
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    // The page of `shoplist-cli ui`: a classic browser script. Each
    // function small enough to read at once.
    files: ['clients/ui/assets/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
    rules: {
      'max-lines-per-function': [
        'error',
        { max: 40, skipBlankLines: true, skipComments: true },
      ],
    },
  },
  {
    // Tests and tools run by Node.
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  {
    // The browser test: the functions it hands to page.evaluate() run in
    // the page.
    files: ['tests/ui/*.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
  },
  {
    // The phone app's backend (a browser module) and its service worker.
    files: ['clients/web/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.browser },
    rules: {
      'max-lines-per-function': [
        'error',
        { max: 40, skipBlankLines: true, skipComments: true },
      ],
    },
  },
  {
    files: ['clients/web/sw.js'],
    languageOptions: {
      sourceType: 'script',
      globals: globals.serviceworker,
    },
  },
  {
    // The offline checker of k8s/ (tools/k8s-validate): CommonJS in Node.
    files: ['tools/k8s-validate/*.js', 'tools/k8s-validate/lib/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  {
    // The WebAssembly build's glue: ES modules that run in Node and in
    // browsers. Emscripten puts them before (--extern-pre-js) or after its
    // own glue, which uses what they declare.
    files: ['clients/wasm/*.js', 'clients/wasm/*.mjs'],
    languageOptions: {
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.node },
    },
    rules: {
      'no-unused-vars': [
        'error',
        { varsIgnorePattern: '^(require|__dirname)$' },
      ],
    },
  },
];
