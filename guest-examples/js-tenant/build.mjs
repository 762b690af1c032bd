// Builds rules.wasm from rules.js with componentize-js (the library call:
// the jco command line fails on a path lookup here, TOOLCHAIN.md).
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';

const out = process.argv[2] ?? 'build/rules.wasm';
const { component } = await componentize({
  sourcePath: 'rules.js',
  witPath: 'wit',
  worldName: 'rules',
  // Nothing from WASI: the component then imports nothing.
  disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`${out}: ${component.length} bytes`);
