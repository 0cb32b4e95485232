// Tabulates repeated runs of the default profile (scripts/flake-record.sh): one row per
// failing check and cause, with the runs it failed in, and each run's time and counts.
// Usage: node scripts/flake-record.mjs <dir with run-N.json and run-N.seconds>
// The cause is the failure's first line with numbers, addresses and run names masked,
// so that the same fault in different runs lands in one row; its class says whether the
// cluster was slow (a convergence bound overrun) or answered wrong.
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: flake-record.mjs <dir>');
  process.exit(2);
}
const strip = (s) => s.replace(/\u001b\[[0-9;]*m/g, '');
const mask = (s) =>
  s
    .replace(/\b\d{1,3}(\.\d{1,3}){3}\b/g, '<ip>')
    .replace(/\b[a-z0-9-]+-r[a-z0-9]{5,}[a-z0-9-]*/g, '<ns>')
    .replace(/\d+(\.\d+)?/g, 'N')
    .slice(0, 160);
const classify = (msg) =>
  /not converged within/.test(msg)
    ? 'slow: bound overrun'
    : /wrong answer after convergence/.test(msg)
      ? 'wrong answer after convergence'
      : /timed out after .* waiting for/.test(msg)
        ? 'workload wait timed out'
        : /Exceeded timeout of/.test(msg)
          ? 'Jest test timeout'
          : 'assertion';

const runs = fs
  .readdirSync(dir)
  .filter((f) => /^run-\d+\.json$/.test(f))
  .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]));
const rows = new Map();
const summary = [];
for (const f of runs) {
  const n = Number(f.match(/\d+/)[0]);
  const secondsFile = path.join(dir, `run-${n}.seconds`);
  const seconds = fs.existsSync(secondsFile) ? Number(fs.readFileSync(secondsFile, 'utf8')) : NaN;
  let r;
  try {
    r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  } catch (e) {
    summary.push({ run: n, seconds, passed: 0, failed: 1, skipped: 0 });
    const key = `run ${n}\u0000no results`;
    rows.set(key, { check: '(whole run)', cause: `no Jest results: ${e.message}`, kind: 'run error', runs: [n], example: '' });
    continue;
  }
  summary.push({
    run: n,
    seconds,
    passed: r.numPassedTests,
    failed: r.numFailedTests + r.numRuntimeErrorTestSuites,
    skipped: r.numPendingTests,
  });
  for (const t of r.testResults) {
    const suite = path.basename(t.name).replace(/\.test\.ts$/, '');
    const failures = t.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => ({ check: `${suite} › ${a.fullName}`, msg: strip(a.failureMessages.join('\n')) }));
    if (t.status === 'failed' && !t.assertionResults.some((a) => a.status === 'failed'))
      failures.push({ check: `${suite} › (suite)`, msg: strip(t.message ?? '') });
    for (const { check, msg } of failures) {
      const first =
        msg
          .split('\n')
          .map((l) => l.trim())
          .find((l) => l && !/^●/.test(l)) ?? '(no message)';
      const cause = mask(first);
      const key = `${check}\u0000${cause}`;
      const row = rows.get(key) ?? { check, cause, kind: classify(msg), runs: [], example: msg.slice(0, 1500) };
      row.runs.push(n);
      rows.set(key, row);
    }
  }
}

const out = [];
out.push(`# Flake record: ${runs.length} run(s) of the default profile`, '');
out.push('| run | seconds | passed | failed | skipped |', '|---|---|---|---|---|');
for (const s of summary)
  out.push(`| ${s.run} | ${Number.isFinite(s.seconds) ? s.seconds.toFixed(1) : '?'} | ${s.passed} | ${s.failed} | ${s.skipped} |`);
const secs = summary
  .map((s) => s.seconds)
  .filter(Number.isFinite)
  .sort((a, b) => a - b);
if (secs.length)
  out.push(
    '',
    `Run time: min ${secs[0].toFixed(1)} s, median ${secs[Math.floor(secs.length / 2)].toFixed(1)} s, max ${secs[secs.length - 1].toFixed(1)} s.`,
  );
out.push('');
if (!rows.size) out.push(`No failures in ${runs.length} run(s).`);
else {
  out.push('| check | kind | cause | runs |', '|---|---|---|---|');
  for (const r of [...rows.values()].sort((a, b) => b.runs.length - a.runs.length))
    out.push(`| ${r.check.replace(/\|/g, '\\|')} | ${r.kind} | ${r.cause.replace(/\|/g, '\\|')} | ${r.runs.join(', ')} |`);
  out.push('', '## First message of each row', '');
  for (const r of rows.values()) out.push(`### ${r.check}`, '', '```', r.example, '```', '');
}
const text = out.join('\n') + '\n';
fs.writeFileSync(path.join(dir, 'flake-record.md'), text);
process.stdout.write(text);
process.exit(rows.size ? 1 : 0);
