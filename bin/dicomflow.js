#!/usr/bin/env node
// Entry point for `npx dicomflow`: runs the compiled CLI (built by `npm run build`, run on `npm ci`).
require('../dist/cli/main.js').main(process.argv.slice(2));
