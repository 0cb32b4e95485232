// A suite file is read two ways. Jest runs it: its checks become tests. The registry
// (suites/registry.ts) collects it: it imports the file, outside Jest too (`svc-conformance
// list`, the selection, the reports, the docs generator), and only records what the file
// declares. Nothing a suite file imports may therefore import @jest/globals, which throws
// outside Jest: Jest's functions are the globals Jest injects into a test file, used only
// while Jest runs the suite, never while the registry collects it.
import type { afterAll as jestAfterAll, describe as jestDescribe, test as jestTest } from '@jest/globals';
import type { CheckDef } from '../../suites/data/sources.ts';

interface JestApi {
  describe: typeof jestDescribe;
  test: typeof jestTest;
  afterAll: typeof jestAfterAll;
}

/** What a suite file declared, recorded whether Jest runs it or the registry collects it. */
export interface DeclaredSuite {
  name: string;
  /** Its checks, in the order it declares them. */
  checks: CheckDef[];
  /** The check ids each prefetch() names. */
  prefetches: string[][];
}

let collecting = 0;
const declared = new Map<string, DeclaredSuite>();

/** Jest's functions while Jest runs a suite file; undefined while the registry collects it
 *  (or anything else imports it outside Jest). */
export function jestApi(): JestApi | undefined {
  if (collecting) return undefined;
  const g = globalThis as Partial<JestApi>;
  return g.describe && g.test && g.afterAll ? { describe: g.describe, test: g.test, afterAll: g.afterAll } : undefined;
}

/** A suite file's record, made once by its defineSuite. */
export function declareSuite(name: string): DeclaredSuite {
  if (declared.has(name)) throw new Error(`suite ${name} is defined twice (suites/${name}.test.ts names itself once)`);
  const s: DeclaredSuite = { name, checks: [], prefetches: [] };
  declared.set(name, s);
  return s;
}

/** Imports suite files (`load`) as the registry does: their checks are recorded, never
 *  declared to Jest, even inside a Jest test that imports the registry. */
export async function collectSuites(load: () => Promise<unknown>): Promise<ReadonlyMap<string, DeclaredSuite>> {
  collecting++;
  try {
    await load();
  } finally {
    collecting--;
  }
  return declared;
}

/** Jest's describe while Jest runs the suite; while the registry collects it, the block's
 *  checks are only recorded. A title that reads the run config (detected()) is a function:
 *  it is read only when Jest runs the suite (a suite file is imported before any run config
 *  exists, by `svc-conformance list`). */
export function describe(title: string | (() => string), fn: () => void): void {
  const jest = jestApi();
  if (jest) jest.describe(typeof title === 'function' ? title() : title, fn);
  else fn();
}

/** Jest's afterAll while Jest runs the suite; nothing while the registry collects it. */
export function afterAll(fn: Parameters<typeof jestAfterAll>[0], timeoutMs?: number): void {
  jestApi()?.afterAll(fn, timeoutMs);
}
