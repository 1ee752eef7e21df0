// Put before the module (--extern-pre-js). Emscripten 3.1.6's ES module
// glue still calls require() and reads __dirname when it runs in Node,
// and an ES module has neither: give it both there. In browsers and
// workers nothing is imported.
const shoplistIsNode =
  typeof process == 'object' &&
  typeof process.versions == 'object' &&
  typeof process.versions.node == 'string';
const require = shoplistIsNode
  ? (
      await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:module')
    ).createRequire(import.meta.url)
  : undefined;
const __dirname = shoplistIsNode
  ? require('node:path').dirname(
      require('node:url').fileURLToPath(import.meta.url),
    )
  : undefined;
