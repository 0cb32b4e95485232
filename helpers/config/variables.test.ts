// The declaration of the SVC_* variables (./variables.ts) against the code: every name the
// code mentions is declared, every declared one is read where the declaration says (and
// nowhere else), so a variable nothing reads cannot stay, and TypeScript reads them in one
// place. The code is what git tracks: TypeScript and JavaScript modules, shell scripts (by
// name or shebang), cluster/env-keys.json and the manifests (the probe's switches).
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseCli } from '../cli/cli.ts';
import { inputFromEnv, ROOT } from './target.ts';
import { allVariables, CLUSTER_KEYS, clusterConfigNames, clusterVariables, RUN_INPUT_VARIABLES, variableAndFlag } from './variables.ts';

/** Names in the code that are not environment variables. */
const NOT_VARIABLES: Record<string, string> = {
  SVC_BRIDGE_CNI_IMAGE: 'a placeholder in cluster/kind/default-cni.yaml that cluster/kind/node-image.sh replaces with sed',
};
/** The declaration and this test name every variable by construction. */
const SELF = ['helpers/config/variables.ts', 'helpers/config/variables.test.ts'];
const NAME = /SVC_[A-Z0-9_]*[A-Z0-9](_\*)?/g;
/** Whether a name (or a family of names: a prefix and `_*`, as the docs write one) is declared. */
const declared = (name: string): boolean =>
  name.endsWith('_*') ? VARIABLES.some((v) => v.name.startsWith(name.slice(0, -1))) : BY_NAME.has(name) || name in NOT_VARIABLES;
const SHEBANG = /^#!\s*(\/usr)?\/bin\/(env\s+)?(sh|bash|dash|ksh)(\s|$)/;

const tracked = (): string[] => {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files in ${ROOT}: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f && fs.existsSync(path.join(ROOT, f)));
};
const read = (f: string): string => fs.readFileSync(path.join(ROOT, f), 'utf8');
const isShell = (f: string): boolean => f.endsWith('.sh') || SHEBANG.test(read(f).split('\n', 1)[0] ?? '');

const FILES = tracked();
const CODE = FILES.filter(
  (f) => !SELF.includes(f) && (/\.(ts|mjs|cjs)$/.test(f) || f === 'cluster/env-keys.json' || /^manifests\/.*\.yaml$/.test(f) || isShell(f)),
);
const VARIABLES = allVariables(ROOT);
const BY_NAME = new Map(VARIABLES.map((v) => [v.name, v]));

/** The SVC_* variables a file reads: a shell script as $NAME or ${NAME...} outside comments,
 *  the probe as process.env.NAME, the rest of the TypeScript as readVariable('NAME'). */
function reads(f: string): Set<string> {
  const text = read(f);
  const out = new Set<string>();
  if (isShell(f)) {
    const code = text
      .split('\n')
      .map((l) => (/^\s*#/.test(l) ? '' : l.replace(/(^|\s)#.*$/, '')))
      .join('\n');
    for (const m of code.matchAll(/\$\{?(SVC_[A-Z0-9_]+)/g)) out.add(m[1]!);
  } else if (f.startsWith('probe/') && f.endsWith('.ts')) {
    for (const m of text.matchAll(/process\.env\.(SVC_[A-Z0-9_]+)/g)) out.add(m[1]!);
  } else if (/\.(ts|mjs|cjs)$/.test(f)) {
    for (const m of text.matchAll(/readVariable\(\s*'(SVC_[A-Z0-9_]+)'/g)) out.add(m[1]!);
  }
  return out;
}

/** The names in these files the declaration lacks, with the files that name them. */
function undeclaredIn(files: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of files)
    for (const [name] of read(f).matchAll(NAME)) {
      const where = (out[name] ??= []);
      if (!declared(name) && !where.includes(f)) where.push(f);
    }
  return Object.fromEntries(Object.entries(out).filter(([, where]) => where.length > 0));
}

describe('the SVC_* variables', () => {
  test('every name in the code is declared (helpers/config/variables.ts)', () => {
    expect(undeclaredIn(CODE)).toEqual({});
  });

  test('every name in the docs is declared', () => {
    expect(undeclaredIn(FILES.filter((f) => f.endsWith('.md')))).toEqual({});
  });

  test('each is declared once, with what it does and its default', () => {
    const names = VARIABLES.map((v) => v.name);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
    for (const v of VARIABLES)
      expect({ name: v.name, what: v.what.length > 5, default: v.default.length > 0 }).toEqual({ name: v.name, what: true, default: true });
  });

  test('each is read exactly where its declaration says, and something reads it', () => {
    const found = new Map<string, Set<string>>();
    for (const f of CODE) for (const name of reads(f)) (found.get(name) ?? found.set(name, new Set()).get(name)!).add(f);
    const mismatches = VARIABLES.flatMap((v) => {
      // A config key of the bundled cluster is read by cluster/lib.sh through cluster/env-keys.json.
      const declared = [...v.readIn, ...(v.parameterOf ?? [])].filter((f) => !(v.clusterKey && f === 'cluster/lib.sh'));
      const actual = [...(found.get(v.name) ?? [])];
      const same = new Set(declared).size === actual.length && actual.every((f) => declared.includes(f));
      return same ? [] : [{ name: v.name, declared: [...new Set(declared)].sort(), readIn: actual.sort() }];
    });
    expect(mismatches).toEqual([]);
    const unread = VARIABLES.filter((v) => v.readIn.length === 0 && !v.input && !v.clusterKey).map((v) => v.name);
    expect(unread).toEqual([]);
    expect([...found.keys()].filter((n) => !BY_NAME.has(n))).toEqual([]);
  });

  test('TypeScript reads them only through the declaration (the probe, a bundle of its own, excepted)', () => {
    const stray = FILES.filter((f) => /\.(ts|mjs|cjs)$/.test(f) && !f.startsWith('probe/') && !SELF.includes(f)).filter((f) =>
      /\benv(\.|\[\s*['"`])SVC_/.test(read(f)),
    );
    expect(stray).toEqual([]);
  });

  describe('a run', () => {
    const saved = { ...process.env };
    afterEach(() => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    });

    test.each(RUN_INPUT_VARIABLES.map((v) => [v.name, v] as const))('%s is read by inputFromEnv', (name, v) => {
      for (const o of RUN_INPUT_VARIABLES) delete process.env[o.name];
      delete process.env.KUBECONFIG;
      const [raw, value] = {
        text: ['some-value', 'some-value'],
        number: ['7', 7],
        on: ['1', true],
        'on-off': ['0', false],
      }[v.input.form];
      process.env[name] = raw as string;
      const input = inputFromEnv();
      expect(input[v.input.key]).toBe(value);
      if (typeof value !== 'boolean') expect(input.sources?.[v.input.key]).toEqual({ name, raw });
    });

    test('KUBECONFIG is taken when SVC_KUBECONFIG is not set', () => {
      delete process.env.SVC_KUBECONFIG;
      process.env.KUBECONFIG = '/k';
      expect(inputFromEnv().kubeconfig).toBe('/k');
      process.env.SVC_KUBECONFIG = '/svc';
      expect(inputFromEnv().kubeconfig).toBe('/svc');
    });

    test("each flag is one of the CLI's", () => {
      for (const v of VARIABLES.filter((x) => x.flag)) {
        const flag = v.flag!.split(' ')[0]!;
        let message = '';
        try {
          parseCli(['run', flag]);
        } catch (e) {
          message = (e as Error).message;
        }
        expect({ name: v.name, flag, unknown: /unknown option/i.test(message) }).toEqual({ name: v.name, flag, unknown: false });
      }
    });

    test('a failure names the bound and its flag', () => {
      expect(variableAndFlag('SVC_PROXY_BOUND_MS')).toBe('SVC_PROXY_BOUND_MS / --proxy-bound');
      expect(variableAndFlag('SVC_MAX_PROBE_NODES')).toBe('SVC_MAX_PROBE_NODES');
    });
  });

  describe('the bundled cluster', () => {
    test('its config variables are cluster/env-keys.json, which cluster/lib.sh reads', () => {
      const keys = JSON.parse(read('cluster/env-keys.json')) as Record<string, string>;
      expect(clusterVariables(ROOT).map((v) => [v.name, v.clusterKey])).toEqual(Object.entries(keys));
      expect(clusterConfigNames(ROOT)).toEqual(['SVC_CLUSTER_CONFIG', ...Object.keys(keys)]);
      expect(read('cluster/lib.sh')).toMatch(/env-keys\.json/);
    });

    test('each key it maps is a key of cluster/cluster.json, described once', () => {
      const keys = Object.values(JSON.parse(read('cluster/env-keys.json')) as Record<string, string>);
      const defaults = JSON.parse(read('cluster/cluster.json')) as Record<string, unknown>;
      expect(keys.filter((k) => !(k in defaults))).toEqual([]);
      expect(Object.keys(CLUSTER_KEYS).sort()).toEqual([...keys].sort());
      for (const [k, about] of Object.entries(CLUSTER_KEYS))
        expect({ k, hasDefault: about.default !== undefined || defaults[k] !== null }).toEqual({ k, hasDefault: true });
    });

    test('without the cluster builds (the npm package) there are none', () => {
      expect(clusterVariables(path.join(ROOT, 'nonexistent'))).toEqual([]);
      expect(clusterConfigNames(path.join(ROOT, 'nonexistent'))).toEqual(['SVC_CLUSTER_CONFIG']);
    });
  });
});
