// The test command's closing line (scripts/test.sh): the tool's own Jest runs, every
// `svc-conformance run` (its results.json) and every matrix (its matrix.json), counted the
// way `run` counts (reports.ts closingLines): warnings listed above, never counted as
// passed. Exit 1 when something failed or a result file is missing.
// Usage: tally.ts --jest FILE... --runs FILE... --matrices FILE...
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closingLines, readRunReport, type JestJson, type RunReport } from '../results/reports.ts';
import { readMatrixReport } from '../matrix/matrix.ts';

type Counts = RunReport['counts'];

export function tally(files: { jest: string[]; runs: string[]; matrices: string[] }): { lines: string[]; failed: boolean } {
  const total: Required<Counts> = { passed: 0, failed: 0, skipped: 0, warnings: 0, notSelected: 0, flaky: 0, informational: 0 };
  const lines: string[] = [];
  const warnings: string[] = [];
  const add = (c: Counts): void => {
    for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += c[k] ?? 0;
  };
  const missing = (file: string, e: unknown): void => {
    total.failed += 1;
    lines.push(`test: no results in ${file}: ${(e as Error).message.split('\n')[0]}`);
  };
  for (const file of files.jest) {
    try {
      const r = JSON.parse(fs.readFileSync(file, 'utf8')) as JestJson;
      add({
        passed: r.numPassedTests,
        failed: r.numFailedTests + (r.numRuntimeErrorTestSuites || 0),
        skipped: r.numPendingTests + r.numTodoTests,
        warnings: 0,
      });
    } catch (e) {
      missing(file, e);
    }
  }
  for (const file of files.runs) {
    try {
      const r = readRunReport(file);
      add(r.counts);
      for (const k of r.knownDifferences?.matched ?? [])
        lines.push(`test: known difference ${k.check} (${k.component}): ${k.reason} ${k.url} [${file}]`);
      for (const k of r.knownDifferences?.stale ?? [])
        lines.push(`test: stale known difference ${k.check} (${k.component}) passed here: fixed upstream? ${k.url} [${file}]`);
      for (const c of r.checks.filter((x) => x.status === 'warning')) {
        warnings.push(c.id ?? c.name);
        lines.push(`test: warning (expected level) ${c.id ?? c.name}: ${String(c.failure ?? '').split('\n')[0]} [${file}]`);
      }
    } catch (e) {
      missing(file, e);
    }
  }
  for (const file of files.matrices) {
    try {
      const m = readMatrixReport(file);
      // Failures a known difference explains (suites/data/known-differences.ts): listed, not
      // counted as passed nor as failed.
      for (const col of m.columns)
        for (const row of m.rows) {
          const cell = row.cells[col.name];
          if (cell?.knownDifference)
            lines.push(`test: known difference (fails as documented) ${row.id} in column ${col.name}: ${cell.knownDifference} [${file}]`);
        }
      add({
        passed: m.counts.passed,
        failed: m.counts.failed + m.counts.columnsNotUp,
        skipped: m.counts.skipped,
        warnings: m.counts.warnings,
      });
    } catch (e) {
      missing(file, e);
    }
  }
  return { lines: [...lines, ...closingLines(total, [...new Set(warnings)])], failed: total.failed > 0 };
}

function parse(argv: string[]): { jest: string[]; runs: string[]; matrices: string[] } {
  const out = { jest: [] as string[], runs: [] as string[], matrices: [] as string[] };
  let into: string[] | undefined;
  for (const a of argv) {
    if (a === '--jest') into = out.jest;
    else if (a === '--runs') into = out.runs;
    else if (a === '--matrices') into = out.matrices;
    else if (into) into.push(a);
    else throw new Error(`tally: '${a}' comes before --jest, --runs or --matrices`);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const r = tally(parse(process.argv.slice(2)));
  process.stdout.write(`${r.lines.join('\n')}\n`);
  process.exit(r.failed ? 1 : 0);
}
