// Bundles probe/probe.ts into dist/probe.cjs: one self-contained CommonJS file that a
// stock Node image runs from a ConfigMap.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
await build({
  entryPoints: [join(root, 'probe/probe.ts')],
  outfile: join(root, 'dist/probe.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
