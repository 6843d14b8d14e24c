#!/usr/bin/env -S node --max-semi-space-size=32 --single-threaded-gc --no-allocation-site-pretenuring
// The shebang's V8 flags are GATEWAY_NODE_FLAGS (src/ops/node-flags.ts says why; a test keeps them equal).
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, which `npm install`/`npm ci` run via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write('tollgate: dist/ is missing; run `npm run build` first\n');
  process.exit(2);
}
await import(main.href);
