#!/usr/bin/env node
// svc-conformance CLI shim: runs helpers/cli/cli.ts on a Node that can (>= 22.19,
// with TypeScript type stripping), using the node@24 that npm ci installs when the
// machine's Node is older.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.dirname(__dirname);
const [maj, min] = process.versions.node.split('.').map(Number);
const ok = maj > 22 || (maj === 22 && min >= 19);
const bundled = path.join(root, 'node_modules', 'node', 'bin', 'node');
const node = ok ? process.execPath : bundled;
if (!ok && !fs.existsSync(bundled)) {
  console.error(`svc-conformance: needs Node >= 22.19 (this is ${process.version}); run 'npm ci' in ${root} to get node@24`);
  process.exit(2);
}
const child = spawn(node, ['--no-warnings', path.join(root, 'helpers', 'cli', 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
// The CLI handles interrupts itself (stops the run, removes its namespaces): pass them on.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
