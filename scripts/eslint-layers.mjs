// The lint rule that keeps the tree's imports running one way (docs/contributing.md, "Layout"): a module
// may import its own layer and the layers below it, never one above. Unit tests next to a
// module (*.test.ts outside suites/) are leaves and may import anything; the conformance
// checks (suites/*.test.ts) are a layer like the others.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Lowest first: [folder, what it is]. A file belongs to the longest folder that holds it. */
export const LAYERS = [
  ['probe/', 'the probe program and its contract'],
  ['helpers/lib/', 'pure logic'],
  ['suites/data/', 'the check data'],
  ['helpers/config/', 'the run config'],
  ['helpers/cluster/', 'cluster access'],
  ['helpers/harness/', 'the check harness'],
  ['helpers/targets/', 'targets'],
  ['suites/', 'the conformance checks and their registry'],
  ['helpers/results/', 'results and reports'],
  ['helpers/matrix/', 'the matrix'],
  ['helpers/cli/', 'the CLI'],
  ['helpers/tools/', 'tools'],
  ['helpers/e2e/', "the tool's own end-to-end tests"],
];

/** The layer of a path relative to the root: its index and folder, or undefined. */
export function layerOf(rel) {
  let best;
  LAYERS.forEach(([dir], i) => {
    if (rel.startsWith(dir) && (!best || dir.length > best.dir.length)) best = { index: i, dir };
  });
  return best;
}

const oneWay = {
  meta: { type: 'problem', docs: { description: 'imports run one way: a layer imports only its own and the ones below' }, schema: [] },
  create(context) {
    const file = path.relative(ROOT, context.filename);
    const from = layerOf(file);
    if (!from || (file.endsWith('.test.ts') && from.dir !== 'suites/')) return {};
    const checkSource = (node) => {
      const spec = node.source && node.source.type === 'Literal' ? node.source.value : undefined;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.relative(ROOT, path.resolve(path.dirname(context.filename), spec));
      const to = layerOf(target);
      if (!to || to.index <= from.index) return;
      context.report({
        node: node.source,
        message: `imports run one way (docs/contributing.md, "Layout"): ${from.dir} (${LAYERS[from.index][1]}) may not import ${target} in ${to.dir} (${LAYERS[to.index][1]}), a layer above it`,
      });
    };
    return {
      ImportDeclaration: checkSource,
      ImportExpression: checkSource,
      ExportNamedDeclaration: checkSource,
      ExportAllDeclaration: checkSource,
    };
  },
};

export default { rules: { 'one-way': oneWay } };
