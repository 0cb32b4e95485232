#!/usr/bin/env node
// svc-conformance CLI shim. From the npm package: runs the compiled CLI (dist/helpers/cli/cli.js)
// on this Node (>= 22.22). From a clone of the repository: runs helpers/cli/cli.ts with type
// stripping, on the node@24 that npm ci installs when the machine's Node is older.
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');

const root = path.dirname(__dirname);
const source = path.join(root, 'helpers', 'cli', 'cli.ts');
const fromSource = fs.existsSync(source);
const cli = fromSource ? source : path.join(root, 'dist', 'helpers', 'cli', 'cli.js');
const [maj, min] = process.versions.node.split('.').map(Number);
const ok = maj > 22 || (maj === 22 && min >= 22);
const bundled = path.join(root, 'node_modules', 'node', 'bin', 'node');
let node = process.execPath;
if (!ok) {
  if (!fromSource || !fs.existsSync(bundled)) {
    console.error(
      `svc-conformance: needs Node >= 22.22 (this is ${process.version})` +
        (fromSource ? `; run 'npm ci' in ${root} to get node@24` : ': install a newer Node.js and run it again'),
    );
    process.exit(2);
  }
  node = bundled;
}
const child = spawn(node, ['--no-warnings', cli, ...process.argv.slice(2)], { stdio: 'inherit' });
// The CLI handles interrupts itself (stops the run, removes its namespaces): pass them on.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 130 : 1)));
