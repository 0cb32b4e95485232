// The HTML report of one run: one self-contained file (inline CSS and SVG, no script), read
// top down: the counts and the implementation, each conformance profile's result, the
// counts per area, the causes the preflight saw, the failures, warnings and flaky checks,
// the known differences, the measured times as charts, every check by suite, the evidence.
import { AREAS as CHECK_AREAS } from '../../suites/data/profiles.ts';
import { claimInTitle } from '../../suites/data/sources.ts';
import type { MeasureKind } from '../harness/evidence.ts';
import type { Component } from './conformance.ts';
import { cacheLags, costText, coverageText, measurements, median, NOT_SELECTED, type Check, type RunReport } from './reports.ts';
import { html } from './render.ts';
import { scaleSection } from './scale.ts';

type Status = Check['status'];

const LABEL: Record<Status, string> = { passed: 'pass', failed: 'FAIL', skipped: 'skip', warning: 'warning', informational: 'info' };

const notSelected = (c: Check): boolean => c.status === 'skipped' && c.skipReason === NOT_SELECTED;

/** A check's area, from its id's prefix. */
export function areaOf(id?: string): string {
  return Object.values(CHECK_AREAS).find((a) => a.prefixes.some((p) => id?.startsWith(p)))?.name ?? 'Other';
}
const AREAS = [...Object.values(CHECK_AREAS).map((a) => a.name), 'Other'];

interface Tally {
  passed: number;
  flaky: number;
  failed: number;
  warnings: number;
  skipped: number;
  informational: number;
  notSelected: number;
}
function tallyOf(cs: Check[]): Tally {
  return {
    passed: cs.filter((c) => c.status === 'passed').length,
    flaky: cs.filter((c) => c.flaky).length,
    failed: cs.filter((c) => c.status === 'failed').length,
    warnings: cs.filter((c) => c.status === 'warning').length,
    skipped: cs.filter((c) => c.status === 'skipped' && !notSelected(c)).length,
    informational: cs.filter((c) => c.status === 'informational').length,
    notSelected: cs.filter(notSelected).length,
  };
}
/** "3 passed, 1 failed": the non-zero counts in words. */
function tallyWords(t: Tally): string {
  const parts: [number, string][] = [
    [t.passed, `passed${t.flaky ? ` (${t.flaky} flaky)` : ''}`],
    [t.failed, 'failed'],
    [t.warnings, t.warnings === 1 ? 'warning' : 'warnings'],
    [t.skipped, 'skipped'],
    [t.informational, 'informational'],
    [t.notSelected, 'not selected'],
  ];
  return (
    parts
      .filter(([n]) => n)
      .map(([n, w]) => `${n} ${w}`)
      .join(', ') || 'no checks'
  );
}

const link = (url: string, text: string): string => (url ? `<a href="${html(url)}">${html(text)}</a>` : html(text));
const firstLine = (s?: string): string => (s ?? '').split('\n').find((l) => l.trim()) ?? '';

// ---------------------------------------------------------------------------- the head
function summary(r: RunReport): string {
  const c = r.counts;
  const ns = c.notSelected ? `, ${c.notSelected} not selected` : '';
  const flaky = c.flaky ? ` (${c.flaky} flaky: passed only on a retry)` : '';
  return (
    `<p id="summary">Run ${html(r.runId)} against ${html(r.cluster)}: <b>${c.passed} passed, ${c.failed} failed, ${c.warnings} warnings, ` +
    `${c.skipped} skipped${ns}</b>${flaky} in ${(r.durationMs / 1000).toFixed(1)} s.</p>` +
    (r.cost ? `<p id="cost">What the run cost the cluster: ${html(costText(r.cost))}.</p>` : '') +
    (r.coverage ? `<p id="coverage">"From every node" means: ${html(coverageText(r.coverage))}.</p>` : '')
  );
}

const ROLE: Record<Component['role'], string> = { 'service-proxy': 'Service proxy', dns: 'DNS', 'dns-cache': 'DNS cache' };
const FROM = { flags: 'named with --implementation', file: 'named in --implementation-file', detected: 'detected from the cluster' };

function implementation(r: RunReport): string {
  const i = r.implementation;
  if (!i) return '';
  const comps = i.components.length
    ? ` Components: ${i.components
        .map(
          (c) =>
            `<span class="comp" title="${html(`read from ${c.from}`)}">${html(ROLE[c.role])}: <b>${html(c.name)}</b> ${html(c.version)}</span>`,
        )
        .join('; ')}.`
    : ' No components recognised.';
  return (
    `<p id="implementation">Implementation under test: <b>${i.url ? link(i.url, i.name) : html(i.name)}</b> ${html(i.version)} ` +
    `<small>(${FROM[i.from]})</small>.${comps}</p>`
  );
}

function selection(r: RunReport): string {
  const s = r.selection;
  if (!s) return '';
  const parts = [
    s.conformanceProfile ? `<code>--conformance-profile ${html(s.conformanceProfile)}</code>` : '',
    s.focus ? `<code>--focus ${html(s.focus)}</code>` : '',
    s.skip ? `<code>--skip ${html(s.skip)}</code>` : '',
    s.rerunFailed ? `<code>--rerun-failed</code> of ${html(s.rerunFailed.from)} (${s.rerunFailed.ids.length} checks)` : '',
    s.retries ? `<code>--retries ${s.retries}</code>` : '',
  ].filter(Boolean);
  return parts.length ? `<p id="selection">Checks chosen with ${parts.join(', ')}.</p>` : '';
}

// ---------------------------------------------------------------------------- profiles
function profiles(r: RunReport): string {
  if (!r.profiles) return '';
  if (!r.profiles.length) return '<h2>Profiles</h2><p>No conformance profile applies to this implementation.</p>';
  const known = (url?: string): string => (url ? ` <a class="badge known" href="${html(url)}">known difference</a>` : '');
  const rows = r.profiles.map((p) => {
    const items = [
      ...p.failed.map(
        (x) => `<li class="failed"><b>FAIL</b> <code>${html(x.id)}</code>: ${html(x.reason)}${known(x.knownDifference)}</li>`,
      ),
      ...p.warnings.map(
        (x) => `<li class="warning"><b>warning</b> <code>${html(x.id)}</code>: ${html(x.reason)}${known(x.knownDifference)}</li>`,
      ),
      ...p.skipped.map((x) => `<li class="skipped"><b>skip</b> <code>${html(x.id)}</code>: ${html(x.reason)}</li>`),
    ];
    const what = [
      [p.failed.length, 'failed'],
      [p.warnings.length, p.warnings.length === 1 ? 'warning' : 'warnings'],
      [p.skipped.length, 'skipped'],
    ]
      .filter(([k]) => k)
      .map(([k, w]) => `${k} ${w}`)
      .join(', ');
    const details = items.length
      ? `<tr class="profile-more"><td colspan="7"><details><summary>${items.length} not passed: ${what}</summary>` +
        `<ul class="reasons">${items.join('')}</ul></details></td></tr>`
      : '';
    const n = p.counts;
    const none = !(n.passed + n.failed + n.warnings + n.skipped + n.notSelected);
    return (
      `<tr class="profile ${p.result}${details ? ' has-more' : ''}"><td><b>${html(p.title)}</b> <code>${html(p.name)}</code></td>` +
      `<td><span class="badge ${p.result}">${p.result}</span>${none ? '<br><small>no check of it in this run</small>' : ''}</td>` +
      `<td>${n.passed}</td><td>${n.failed}</td><td>${n.warnings}</td><td>${n.skipped}</td><td>${n.notSelected}</td></tr>${details}`
    );
  });
  return (
    '<h2>Profiles</h2><p>Each conformance profile that applies to the implementation: <i>success</i> when every check of it passed, ' +
    '<i>partial</i> when none failed but some warned, were skipped or not selected, <i>failure</i> when one failed.</p>' +
    '<table id="profiles" class="num"><thead><tr><th>Profile</th><th>Result</th><th>Passed</th><th>Failed</th><th>Warnings</th>' +
    `<th>Skipped</th><th>Not selected</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function areas(r: RunReport): string {
  const cell = (n: number, cls: string): string => `<td class="${n ? cls : 'zero'}">${n}</td>`;
  const row = (name: string, t: Tally, tag = 'td'): string =>
    `<tr><${tag}>${html(name)}</${tag}>${cell(t.passed, 'passed')}${cell(t.failed, 'failed')}${cell(t.warnings, 'warning')}` +
    `${cell(t.skipped, 'skipped')}${cell(t.informational, 'informational')}${cell(t.notSelected, 'notselected')}</tr>`;
  const rows = AREAS.map((a) => [a, r.checks.filter((c) => areaOf(c.id) === a)] as const)
    .filter(([, cs]) => cs.length)
    .map(([a, cs]) => row(a, tallyOf(cs)));
  return (
    '<h2>By area</h2><table id="areas" class="num"><thead><tr><th>Area</th><th>Passed</th><th>Failed</th><th>Warnings</th>' +
    `<th>Skipped</th><th>Informational</th><th>Not selected</th></tr></thead><tbody>${rows.join('')}</tbody>` +
    `<tfoot>${row('All', tallyOf(r.checks), 'th')}</tfoot></table>` +
    (r.suiteErrors.length ? `<p>And ${r.suiteErrors.length} suite(s) that could not set up (under Failures).</p>` : '')
  );
}

// ------------------------------------------------------------------- failures, warnings
function knownBadge(c: Check): string {
  const k = c.knownDifference;
  return k ? `<p class="known"><b>Known difference:</b> ${html(k.reason)}${k.url ? ` (${link(k.url, k.url)})` : ''}</p>` : '';
}
function attemptsOf(c: Check): string {
  if (!c.attempts?.length) return '';
  return (
    `<div class="attempts"><b>${c.attempts.length} failed attempt(s):</b>` +
    c.attempts
      .map(
        (a) =>
          `<details><summary>attempt ${a.attempt}: ${html(firstLine(a.failure).slice(0, 200))}</summary><pre>${html(a.failure)}</pre></details>`,
      )
      .join('') +
    '</div>'
  );
}

function failures(r: RunReport): string {
  const checks = r.checks
    .filter((c) => c.status === 'failed')
    .map(
      (c) =>
        `<details open class="failure"><summary>${html(`${c.suite}: ${c.name}`)}${c.knownDifference ? ' <span class="badge known">known difference</span>' : ''}</summary>` +
        `${knownBadge(c)}<pre>${html(c.failure ?? '')}</pre>${attemptsOf(c)}</details>`,
    );
  const suites = r.suiteErrors.map(
    (e) => `<details open class="failure"><summary>${html(`${e.suite}: suite setup`)}</summary><pre>${html(e.message)}</pre></details>`,
  );
  return `<h2>Failures</h2>${[...checks, ...suites].join('\n') || '<p>None.</p>'}`;
}

function warnings(r: RunReport): string {
  const ws = r.checks
    .filter((c) => c.status === 'warning')
    .map(
      (c) =>
        `<details open class="warning"><summary>${html(`${c.id}: ${claimInTitle(c.name)}`)} (expected level)` +
        `${c.knownDifference ? ' <span class="badge known">known difference</span>' : ''}</summary>${knownBadge(c)}<pre>${html(c.failure ?? '')}</pre>${attemptsOf(c)}</details>`,
    )
    .join('\n');
  return (
    '<h2>Warnings</h2><p>Expected-level checks: documented default behaviour that the specification leaves open. ' +
    `They do not fail the run (<code>--strict</code> makes them fail).</p>${ws || '<p>None.</p>'}`
  );
}

function flaky(r: RunReport): string {
  const fl = r.checks.filter((c) => c.flaky);
  if (!fl.length) return '';
  return (
    '<h2>Flaky</h2><p>Passed only on a retry (<code>--retries</code>): counted as passed, never as a plain pass.</p>' +
    `<div id="flaky">${fl
      .map(
        (c) =>
          `<details open class="flaky"><summary>${html(`${c.id ?? c.suite}: ${claimInTitle(c.name)}`)}</summary>${attemptsOf(c)}</details>`,
      )
      .join('\n')}</div>`
  );
}

function knownDifferences(r: RunReport): string {
  const k = r.knownDifferences;
  if (!k) return '';
  const head = '<h2>Known differences</h2>';
  if (!k.matched.length && !k.stale.length) return `${head}<p id="known-differences">None.</p>`;
  const row = (m: (typeof k.matched)[number], stale: boolean): string =>
    `<tr class="${stale ? 'stale' : 'matched'}"><td><code>${html(m.check)}</code></td><td>${html(m.component)}</td><td>${html(m.reason)}` +
    `${stale ? ' <b class="stale">passed here: fixed upstream?</b>' : ''}</td><td>${m.url ? link(m.url, m.url) : ''}</td>` +
    `<td><small>${html(m.from)}</small></td></tr>`;
  return (
    `${head}<p>Differences of the implementation from the documented behaviour, already known: the check keeps its verdict, ` +
    'this explains it. An entry whose check passed here may be fixed upstream.</p>' +
    '<table id="known-differences"><thead><tr><th>Check</th><th>Component</th><th>Reason</th><th>Upstream</th><th>From</th></tr></thead>' +
    `<tbody>${[...k.matched.map((m) => row(m, false)), ...k.stale.map((m) => row(m, true))].join('')}</tbody></table>`
  );
}

// ---------------------------------------------------------------------------- measurements
const CHARTS: { kind: MeasureKind; title: string; color: string }[] = [
  { kind: 'DNS', title: 'DNS convergence times', color: '#2563eb' },
  { kind: 'Service proxy', title: 'Service proxy convergence times', color: '#7c3aed' },
  { kind: 'EndpointSlices', title: 'EndpointSlices times', color: '#0e7490' },
  { kind: 'proxy rules', title: 'Proxy rules convergence times', color: '#c2410c' },
  { kind: 'DNS cache lag', title: 'DNS cache lag behind the replicas', color: '#be185d' },
];

const ms = (v: number): string => (v < 1000 ? `${Math.round(v)} ms` : `${+(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`);
/** A round step for about five ticks up to max. */
function tickStep(max: number): number {
  const raw = max / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((f) => f * p).find((s) => s >= raw)!;
}

/** The time axis: linear from 0, or logarithmic when the times span more than a few tens
 *  (a wait of 10 ms and one of 5 s in one chart). */
function timeAxis(lo: number, hi: number): { x: (v: number) => number; ticks: { v: number; label: string }[]; title: string } {
  if (hi / Math.max(lo, 1) >= 30) {
    const d0 = Math.floor(Math.log10(Math.max(lo, 1)));
    const d1 = Math.ceil(Math.log10(hi));
    const ticks: { v: number; label: string }[] = [];
    for (let d = d0; d <= d1; d++)
      for (const f of d1 - d0 <= 3 ? [1, 2, 5] : [1]) if (f * 10 ** d <= 10 ** d1) ticks.push({ v: f * 10 ** d, label: ms(f * 10 ** d) });
    return {
      x: (v) => (Math.log10(Math.max(v, 10 ** d0)) - d0) / (d1 - d0),
      ticks,
      title: 'time (logarithmic scale)',
    };
  }
  const step = tickStep(hi);
  const max = Math.ceil(hi / step) * step;
  const inSeconds = max >= 2000;
  const ticks: { v: number; label: string }[] = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push({ v, label: String(inSeconds ? +(v / 1000).toFixed(2) : v) });
  return { x: (v) => v / max, ticks, title: `time (${inSeconds ? 's' : 'ms'})` };
}

type Point = ReturnType<typeof measurements>[number];

/** One kind's times: a strip plot, one lane for the waits that saw the change (filled dots)
 *  and one for those right at the first look (hollow: the time is an upper bound), with each
 *  lane's median and max marked and the bound a measurement names ("allowed: ..., 30 s"). */
function chart(title: string, color: string, points: Point[]): string {
  const W = 1000;
  const L = 260;
  const R = 40;
  const PW = W - L - R;
  const TOP = 20;
  const LANE = 62;
  const bound = points
    .map((p) => /allowed:[^)]*?(\d+(?:\.\d+)?) s\)/.exec(p.name))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]) * 1000)[0];
  const values = points.map((p) => p.value);
  const axis = timeAxis(Math.min(...values), Math.max(...values, bound ?? 0, 1));
  const x = (v: number): number => L + axis.x(v) * PW;
  const lanes = [
    { name: 'saw the change (measured)', cls: 'converged', pts: points.filter((p) => p.converged) },
    { name: 'right at the first look (at most)', cls: 'first-look', pts: points.filter((p) => !p.converged) },
  ].filter((l) => l.pts.length);
  const axisY = TOP + lanes.length * LANE;
  const H = axisY + 40;
  const out: string[] = [];
  for (const t of axis.ticks) {
    const xv = x(t.v).toFixed(1);
    out.push(
      `<line x1="${xv}" x2="${xv}" y1="${TOP}" y2="${axisY + 4}" stroke="#e5e7eb"/>`,
      `<text x="${xv}" y="${axisY + 16}" text-anchor="middle" class="tick">${html(t.label)}</text>`,
    );
  }
  out.push(
    `<line x1="${L}" x2="${L + PW}" y1="${axisY}" y2="${axisY}" stroke="#6b7280"/>`,
    `<text x="${L + PW / 2}" y="${axisY + 33}" text-anchor="middle" class="axis">${axis.title}</text>`,
  );
  const summaries: string[] = [];
  lanes.forEach((lane, li) => {
    const y0 = TOP + li * LANE;
    const cy = y0 + LANE / 2;
    const vs = lane.pts.map((p) => p.value);
    const med = median(vs)!;
    const max = Math.max(...vs);
    summaries.push(`${lane.pts.length} ${lane.name}: median ${ms(med)}, max ${ms(max)}`);
    if (li) out.push(`<line x1="${L}" x2="${L + PW}" y1="${y0}" y2="${y0}" stroke="#d1d5db" stroke-dasharray="2 3"/>`);
    out.push(
      `<circle cx="12" cy="${cy - 5}" r="4.5" ${lane.cls === 'converged' ? `fill="${color}"` : `fill="#fff" stroke="${color}" stroke-width="1.6"`}/>`,
      `<text x="22" y="${cy - 1}" class="lane">${html(lane.name)}</text>`,
      `<text x="22" y="${cy + 13}" class="stats">n ${lane.pts.length} · median ${ms(med)} · max ${ms(max)}</text>`,
    );
    lane.pts.forEach((p, i) => {
      // A fixed vertical jitter, so that equal times stay apart.
      const dy = (((i * 7) % 9) - 4) * 3.5;
      const attrs =
        lane.cls === 'converged'
          ? `fill="${color}" fill-opacity="0.75"`
          : `fill="#fff" fill-opacity="0.6" stroke="${color}" stroke-width="1.5"`;
      out.push(
        `<circle class="dot ${lane.cls}" cx="${x(p.value).toFixed(1)}" cy="${(cy + dy).toFixed(1)}" r="4" ${attrs}>` +
          `<title>${html(`${ms(p.value)}${p.converged ? '' : ' (at most)'} · ${p.check}: ${p.name}`)}</title></circle>`,
      );
    });
    // The median: a bar across the dots, named above them; the max: a triangle under its dot, named beside it.
    const mx = x(med);
    out.push(
      `<line class="median" x1="${mx.toFixed(1)}" x2="${mx.toFixed(1)}" y1="${y0 + 14}" y2="${y0 + LANE - 14}" stroke="#111" stroke-width="2">` +
        `<title>median ${ms(med)}</title></line>`,
      `<text x="${Math.max(mx, L + 30).toFixed(1)}" y="${y0 + 11}" text-anchor="middle" class="mark">median ${ms(med)}</text>`,
    );
    const xm = x(max);
    const right = xm > L + PW - 80;
    out.push(
      `<path class="max" d="M${xm.toFixed(1)} ${y0 + LANE - 11} l-4 7 h8 z" fill="#111"><title>max ${ms(max)}</title></path>`,
      `<text x="${(right ? xm - 7 : xm + 7).toFixed(1)}" y="${y0 + LANE - 4}" text-anchor="${right ? 'end' : 'start'}" class="mark">max ${ms(max)}</text>`,
    );
  });
  if (bound !== undefined) {
    const bx = x(bound).toFixed(1);
    out.push(
      `<line class="bound" x1="${bx}" x2="${bx}" y1="${TOP - 4}" y2="${axisY}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="5 3">` +
        `<title>allowed ${ms(bound)}</title></line>`,
      +bx > L + PW - 100
        ? `<text x="${(+bx - 4).toFixed(1)}" y="${TOP - 4}" text-anchor="end" class="bound">allowed ${ms(bound)}</text>`
        : `<text x="${(+bx + 4).toFixed(1)}" y="${TOP - 4}" class="bound">allowed ${ms(bound)}</text>`,
    );
  }
  const label = `${title}: ${summaries.join('; ')}${bound !== undefined ? `; allowed ${ms(bound)}` : ''}`;
  return (
    `<figure class="chart"><figcaption>${html(title)} <small>(${points.length} measurement${points.length === 1 ? '' : 's'})</small></figcaption>` +
    `<svg role="img" aria-label="${html(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    `<title>${html(label)}</title>${out.join('')}</svg></figure>`
  );
}

function measured(r: RunReport): string {
  const all = measurements(r).filter((m) => m.kind !== undefined && m.unit === 'ms');
  const charts = CHARTS.map((c) => ({ ...c, pts: all.filter((m) => m.kind === c.kind) }))
    .filter((c) => c.pts.length)
    .map((c) => chart(c.title, c.color, c.pts));
  const lags = cacheLags(r);
  const lagTable = lags.length
    ? '<h3>DNS cache lag behind the replicas</h3><p>A cache in front of the replicas may serve an answer until its TTL runs out; each wait where it did:</p>' +
      `<table id="cache-lag"><thead><tr><th>Check</th><th>Lag</th><th>Question</th></tr></thead><tbody>${lags
        .map((l) => `<tr><td><code>${html(l.check)}</code></td><td>${l.ms} ms</td><td>${html(l.name)}</td></tr>`)
        .join('')}</tbody></table>`
    : '<p>No cache lagged behind the replicas (or none is in front of them).</p>';
  return (
    '<h2>Measurements</h2>' +
    (charts.length
      ? '<p>The time from a change to the cluster until each wait saw it. Filled dots: the wait saw the change happen; hollow dots: ' +
        'it was already there at the first look, so the time is only an upper bound. Hover a dot for its check and question.</p>' +
        `<div id="measurements">${charts.join('\n')}</div>`
      : '<p>No convergence measurements in this run.</p>') +
    lagTable
  );
}

// ---------------------------------------------------------------------------- checks
function checksTable(r: RunReport): string {
  const bySuite = new Map<string, Check[]>();
  for (const c of r.checks) bySuite.set(c.suite, [...(bySuite.get(c.suite) ?? []), c]);
  const row = (c: Check): string =>
    `<tr class="${c.status}${c.flaky ? ' flaky' : ''}"><td>${c.flaky ? 'pass (flaky)' : LABEL[c.status]}</td><td><code>${html(c.id ?? '')}</code></td>` +
    `<td>${html(c.level ?? '')}</td><td>${html(claimInTitle(c.name))}${c.skipReason ? `<br><small>${html(c.skipReason)}</small>` : ''}` +
    `${c.knownDifference ? ` <span class="badge known" title="${html(c.knownDifference.reason)}">known difference</span>` : ''}</td>` +
    `<td>${html((c.families ?? []).join(', '))}</td><td>${c.source ? link(c.source.url, c.source.title) : ''}</td>` +
    `<td class="time">${(c.durationMs / 1000).toFixed(1)} s</td></tr>`;
  const bodies = [...bySuite.entries()]
    .map(([suite, cs]) => {
      const shown = cs.filter((c) => !notSelected(c));
      if (!shown.length) return '';
      return (
        `<tbody class="suite"><tr class="suite-head"><th colspan="7">${html(suite)} <small>${tallyWords(tallyOf(cs))}</small></th></tr>\n` +
        `${shown.map(row).join('\n')}</tbody>`
      );
    })
    .filter(Boolean);
  const ns = r.checks.filter(notSelected);
  const nsList = ns.length
    ? `<details id="not-selected"><summary>${ns.length} check${ns.length === 1 ? '' : 's'} not selected in this run</summary>` +
      `<ul class="ids">${ns.map((c) => `<li><code>${html(c.id ?? claimInTitle(c.name))}</code></li>`).join('')}</ul></details>`
    : '';
  return (
    '<h2>Checks</h2><table id="checks"><thead><tr><th>Result</th><th>Id</th><th>Level</th><th>Claim</th><th>Families</th><th>Source</th>' +
    `<th>Time</th></tr></thead>\n${bodies.join('\n')}\n</table>${nsList}`
  );
}

function evidence(r: RunReport): string {
  const transcripts = r.evidence
    .map((e) => {
      const items = e.items.filter((i) => i.kind === 'transcript' || i.kind === 'info' || i.kind === 'counts' || i.kind === 'measurement');
      if (!items.length) return '';
      return (
        `<details><summary>${html(e.suite)} ` +
        `(${items.length})</summary>${items.map((i) => `<div class="ev"><b>${html(i.check)}</b> <i>${i.kind}</i><pre>${html(i.text ?? '')}${i.value !== undefined ? html(`\n${JSON.stringify(i.value, null, 2)}`) : ''}</pre></div>`).join('')}</details>`
      );
    })
    .join('\n');
  return `<h2>Evidence: transcripts and measurements</h2>${transcripts || '<p>None.</p>'}`;
}

const CSS = `
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1.5em;color:#111;line-height:1.4}
h2{margin-top:1.6em;border-bottom:1px solid #e5e7eb;padding-bottom:.2em}h3{margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f9fafb}table.num td:not(:first-child),table.num th:not(:first-child){text-align:right;width:7.5em;white-space:nowrap}
table.num td.zero{color:#9ca3af}#areas td.failed{color:#b91c1c;font-weight:bold}#areas td.warning{color:#92400e;font-weight:bold}
#areas tfoot th{text-align:right;background:#f9fafb}#areas tfoot th:first-child{text-align:left}
tr.passed td:first-child{background:#dcfce7}tr.failed td:first-child{background:#fee2e2;font-weight:bold}tr.skipped td:first-child{background:#f3f4f6}
tr.warning td:first-child{background:#fef3c7;font-weight:bold}tr.informational td:first-child{background:#e0f2fe}tr.flaky td:first-child{background:#fef9c3}
#checks td:first-child{white-space:nowrap}#checks td:nth-child(2) code{font-size:.85em}#checks td:nth-child(4){min-width:16em}#checks td:nth-child(5){white-space:nowrap}#checks td:nth-child(6){min-width:10em;max-width:18em}#checks td.time{white-space:nowrap;text-align:right}
tbody.suite tr.suite-head th{background:#eef2ff;font-size:1.05em;border-top:2px solid #c7d2fe}tbody.suite tr.suite-head small{font-weight:normal;color:#374151;margin-left:1em}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;font-size:.85em;font-weight:bold;white-space:nowrap;text-decoration:none}
.badge.success{background:#dcfce7;color:#166534}.badge.partial{background:#fef3c7;color:#92400e}.badge.failure{background:#fee2e2;color:#991b1b}
.badge.known{background:#e0e7ff;color:#3730a3}b.stale{color:#92400e}#known-differences td:nth-child(-n+2){white-space:nowrap}
#profiles td code{white-space:nowrap}#profiles td:nth-child(2),#profiles th:nth-child(2){text-align:center}#profiles tr.has-more td{border-bottom:none}#profiles tr.profile-more td{border-top:none;padding:0 8px 4px 1.5em}#profiles td details{font-size:.92em}#profiles td details summary{cursor:pointer;color:#374151}
ul.reasons{margin:.3em 0;padding-left:1.2em}ul.reasons li{margin:.15em 0}ul.reasons li.failed b{color:#b91c1c}ul.reasons li.warning b{color:#92400e}
details.failure>pre,details.warning>pre{max-height:32em;overflow:auto}
pre{white-space:pre-wrap;word-break:break-word;background:#f8fafc;padding:8px;border:1px solid #e5e7eb;margin:.4em 0}
details.failure summary{color:#b91c1c;font-weight:bold}details.warning summary{color:#92400e;font-weight:bold}details.flaky summary{color:#854d0e;font-weight:bold}
details.failure,details.warning,details.flaky{margin:.5em 0}p.known{margin:.3em 0}.attempts{margin:.3em 0 .3em 1em}.attempts details summary{cursor:pointer;font-weight:normal;color:#374151}
#implementation .comp{white-space:nowrap}#selection code,#implementation code{background:#f3f4f6;padding:0 .3em}
figure.chart{margin:1em 0}figure.chart figcaption{font-weight:bold;margin-bottom:.2em}figure.chart svg{max-width:100%;height:auto;display:block}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#374151}svg text.lane{font-size:12px;fill:#111}svg text.stats{font-size:10.5px;fill:#4b5563}
svg text.tick{font-size:10.5px}svg text.axis{font-size:11px;fill:#111}svg text.mark{font-size:10px;fill:#111;paint-order:stroke;stroke:#fff;stroke-width:3px}svg text.bound{font-size:10.5px;fill:#b91c1c}
#scale td.over{color:#b91c1c;font-weight:bold}#scale td[rowspan]{text-align:left;width:auto;min-width:14em}#scale td:not([rowspan]),#scale th:not(:first-child){width:5.5em;text-align:right}
ul.ids{columns:3 18em;padding-left:1.2em;font-size:.92em}#not-selected summary{cursor:pointer}.ev{margin:6px 0}
`;

export function htmlReport(r: RunReport): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>svc-conformance ${html(r.runId)}</title>
<style>${CSS}</style></head><body>
<h1>svc-conformance</h1>
${summary(r)}
${implementation(r)}
${selection(r)}
${profiles(r)}
${areas(r)}
${r.causes?.length ? `<h2>One cause for many checks</h2><p>Seen by the preflight, before any check ran:</p><ul id="causes">${r.causes.map((c) => `<li>${html(c)}</li>`).join('')}</ul>` : ''}
${failures(r)}
${warnings(r)}
${flaky(r)}
${knownDifferences(r)}
${measured(r)}
${scaleSection(r)}
${checksTable(r)}
${evidence(r)}
</body></html>
`;
}
