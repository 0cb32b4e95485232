// Progress while a run goes (a Jest reporter the CLI adds): one line per finished check,
// `[12/75] dns.headless.a-set pass 1.2 s`, numbered against the checks the run selected;
// every minute without a finished check, how many are left and which are running (and for
// how long); at the end, the count. The verdict (warning, informational, requirement skip)
// comes from the harness's verdict lines, written before Jest reports the test.
import { idInTitle } from '../../suites/data/sources.ts';
import { readVerdicts, stripAnsi } from './reports.ts';

export interface ProgressOptions {
  /** The checks the run selected (the others are not reported). */
  ids: string[];
  evidenceDir: string;
  runId: string;
  /** How many checks of the registry the run did not select (said once, apart). */
  notSelected?: number;
  /** Seconds without a finished check before a "still running" line (default 60). */
  heartbeatSeconds?: number;
}

interface TestCase {
  title: string;
  status: string;
  duration?: number | null;
  failureMessages?: string[];
}

const STATUS: Record<string, string> = { passed: 'pass', failed: 'FAIL', warning: 'warning', informational: 'info', skipped: 'skip' };

export default class ProgressReporter {
  private done = 0;
  private readonly running = new Map<string, number>();
  private readonly reported = new Set<string>();
  private last = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private readonly o: ProgressOptions;
  private readonly selected: Set<string>;
  private readonly total: number;

  constructor(_global: unknown, options: ProgressOptions) {
    this.o = options;
    this.selected = new Set(options.ids);
    this.total = this.selected.size;
  }

  private write(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  onRunStart(): void {
    this.write(`svc-conformance: ${this.total} check(s) to run${this.o.notSelected ? ` (${this.o.notSelected} not selected)` : ''}`);
    const every = (this.o.heartbeatSeconds ?? 60) * 1000;
    this.timer = setInterval(() => {
      if (Date.now() - this.last < every) return;
      this.last = Date.now();
      const now = Date.now();
      const running = [...this.running].map(([id, t]) => `${id} (${Math.round((now - t) / 1000)} s)`);
      this.write(`svc-conformance: ${this.total - this.done} check(s) left; running: ${running.join(', ') || 'suite setup'}`);
    }, 5000);
    this.timer.unref();
  }

  onTestCaseStart(_test: unknown, info: { title: string }): void {
    const id = idInTitle(info.title);
    if (id && this.selected.has(id)) this.running.set(id, Date.now());
  }

  /** Checks skipped for a requirement never run, so Jest reports them only with their file. */
  onTestResult(_test: unknown, result: { testResults: TestCase[] }): void {
    for (const r of result.testResults) if (r.status === 'pending' || r.status === 'skipped') this.onTestCaseResult(undefined, r);
  }

  onTestCaseResult(_test: unknown, r: TestCase): void {
    const id = idInTitle(r.title);
    if (!id || !this.selected.has(id) || this.reported.has(id)) return;
    this.reported.add(id);
    this.running.delete(id);
    this.done++;
    this.last = Date.now();
    let status = r.status === 'passed' ? 'passed' : r.status === 'failed' ? 'failed' : 'skipped';
    const v = readVerdicts(this.o.evidenceDir, this.o.runId).get(id);
    if (status === 'passed' && v && v.status !== 'skipped') status = v.status;
    const secs = ((r.duration ?? 0) / 1000).toFixed(1);
    const why =
      status === 'failed'
        ? `: ${
            stripAnsi(r.failureMessages?.[0] ?? '')
              .split('\n')
              .find((l) => l.trim()) ?? ''
          }`
        : status === 'skipped' && v?.reason
          ? `: ${v.reason}`
          : status === 'warning' || status === 'informational'
            ? `: ${(v?.message ?? '').split('\n')[0]}`
            : '';
    this.write(`[${this.done}/${this.total}] ${id} ${STATUS[status] ?? status} ${secs} s${why.slice(0, 200)}`);
  }

  onRunComplete(): void {
    if (this.timer) clearInterval(this.timer);
    const left = this.total - this.done;
    this.write(
      `svc-conformance: ${this.done} of ${this.total} check(s) finished${left > 0 ? `, ${left} did not report (see the suite errors)` : ''}`,
    );
  }
}
