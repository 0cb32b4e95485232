// The one set of renderers every report uses (a run's and the matrix's): escaping for XML,
// HTML and Markdown cells, the status vocabulary, the JUnit test case, and writing a report
// dir (with its Markdown appended to GitHub's step summary).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stepSummaryFile } from '../config/target.ts';

export type Status = 'passed' | 'failed' | 'skipped' | 'warning' | 'informational';

/** XML text and attributes (JUnit): the five entities, control characters dropped. */
export const xml = (s: string): string =>
  s
    .replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
/** HTML text and attributes. */
export const html = xml;
/** A Markdown table cell: one line, no pipes or tags. */
export const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The status vocabulary: an icon, and the icon with its word (for a cell). */
export const ICONS: Record<Status, string> = { passed: '✅', failed: '❌', skipped: '⏭️', warning: '⚠️', informational: 'ℹ️' };
const WORDS: Record<Status, string> = { passed: 'pass', failed: 'FAIL', skipped: 'skip', warning: 'warning', informational: 'info' };
export const statusText = (s?: Status): string => (s ? `${ICONS[s]} ${WORDS[s]}` : '— not run');

/** One JUnit test case: properties, then the failure, skip or warning text by status. */
export function junitCase(
  c: {
    classname: string;
    name: string;
    timeS?: number;
    properties: Record<string, string>;
    status: Status;
    level?: string;
    failure?: string;
    skipReason?: string;
  },
  firstLine: (s: string) => string = (s) => s.split('\n')[0]!,
): string {
  const props = Object.keys(c.properties).length
    ? `<properties>${Object.entries(c.properties)
        .map(([k, v]) => `<property name="${xml(k)}" value="${xml(v)}"/>`)
        .join('')}</properties>`
    : '';
  const inner =
    c.status === 'failed'
      ? `<failure message="${xml(firstLine(c.failure ?? '').slice(0, 500))}">${xml(c.failure ?? '')}</failure>`
      : c.status === 'skipped'
        ? `<skipped message="${xml(c.skipReason ?? '')}"/>`
        : c.status === 'warning' || c.status === 'informational'
          ? `<system-out>${xml(`${c.status.toUpperCase()} (${c.level ?? ''} level, does not fail the run): ${c.failure ?? ''}`)}</system-out>`
          : '';
  return (
    `    <testcase classname="${xml(c.classname)}" ` +
    `name="${xml(c.name)}"${c.timeS === undefined ? '' : ` time="${c.timeS.toFixed(3)}"`}>${props}${inner}</testcase>`
  );
}

/** A suite of one errored case (a suite that could not set up, a column that did not run). */
export const junitErrorSuite = (suite: string, caseName: string, message: string, detail: string): string =>
  `  <testsuite name="${xml(suite)}" tests="1" failures="0" errors="1"><testcase classname="${xml(suite)}" ` +
  `name="${xml(caseName)}"><error message="${xml(message.split('\n')[0]!.slice(0, 500))}">${xml(detail)}</error></testcase></testsuite>`;

/** Writes a report dir's files; the Markdown one is also appended to the step summary. */
export function writeReportDir(dir: string, files: [string, string][], markdown: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of files) fs.writeFileSync(path.join(dir, f), text);
  const summary = stepSummaryFile();
  if (summary) fs.appendFileSync(summary, markdown);
  return files.map(([f]) => path.join(dir, f));
}
