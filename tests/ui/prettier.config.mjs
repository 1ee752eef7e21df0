// Prettier's settings for the project's JavaScript, checked by
// scripts/lint-js.sh (which names this file: the packages live in
// tests/ui). Single quotes and trailing commas are what the code already
// used; 80 columns is what tests/wasm was written to, so it barely moves.
export default {
  singleQuote: true,
  trailingComma: 'all',
  printWidth: 80,
};
