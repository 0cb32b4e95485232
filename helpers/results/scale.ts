// The scale profile's part of the reports: a table of p50/p90/p99 per measure and size, a
// chart of latency against the number of Services and one of each size's distribution.
import { MEASURES, PROGRAMMING_SLO_MS, rowsOf, SCALE_EVIDENCE, type ScaleStep, timesOf } from '../lib/scale.ts';
import { html } from './render.ts';
import type { RunReport } from './reports.ts';

/** The steps a run's evidence holds (none when it did not run the scale profile). */
export function scaleSteps(r: RunReport): ScaleStep[] {
  for (const e of r.evidence)
    for (const i of e.items) if ((i.detail ?? i.check) === SCALE_EVIDENCE && Array.isArray(i.value)) return i.value as ScaleStep[];
  return [];
}

const fmt = (v?: number): string =>
  v === undefined ? '—' : v < 1 ? `${+v.toFixed(2)} ms` : v < 1000 ? `${Math.round(v)} ms` : `${+(v / 1000).toFixed(2)} s`;

// ------------------------------------------------------------------------------ charts
const COLORS = ['#2563eb', '#16a34a', '#c2410c', '#7c3aed', '#be185d'];

/** p50 and p99 of each measure against the number of Services (log time axis), the SLO marked. */
function growthChart(steps: ScaleStep[]): string {
  const W = 900;
  const H = 320;
  const L = 70;
  const R = 210;
  const T = 20;
  const B = 50;
  const lines = MEASURES.flatMap((m, mi) =>
    (['p50', 'p99'] as const).map((q) => ({
      label: `${m.key} ${q}`,
      color: COLORS[mi]!,
      dash: q === 'p50' ? '4 3' : '',
      pts: rowsOf(steps, m.key)
        .filter((r) => r.overall)
        .map((r) => ({ x: r.services, y: r.overall![q] })),
    })),
  ).filter((l) => l.pts.length);
  if (!lines.length) return '';
  const xs = steps.map((s) => s.services);
  const ys = lines.flatMap((l) => l.pts.map((p) => Math.max(p.y, 0.1))).concat(PROGRAMMING_SLO_MS);
  const lo = Math.floor(Math.log10(Math.min(...ys)));
  const hi = Math.ceil(Math.log10(Math.max(...ys)));
  const xMax = Math.max(...xs);
  const px = (v: number): number => L + (v / xMax) * (W - L - R);
  const py = (v: number): number => T + (1 - (Math.log10(Math.max(v, 0.1)) - lo) / Math.max(hi - lo, 1)) * (H - T - B);
  const out: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const y = py(10 ** d).toFixed(1);
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#e5e7eb"/><text x="${L - 6}" y="${y}" text-anchor="end" class="tick">${fmt(10 ** d)}</text>`,
    );
  }
  for (const x of xs)
    out.push(
      `<line x1="${px(x).toFixed(1)}" x2="${px(x).toFixed(1)}" y1="${T}" y2="${H - B}" stroke="#f3f4f6"/><text x="${px(x).toFixed(1)}" y="${H - B + 16}" text-anchor="middle" class="tick">${x}</text>`,
    );
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle" class="axis">Services</text>`);
  const slo = py(PROGRAMMING_SLO_MS).toFixed(1);
  out.push(
    `<line class="bound" x1="${L}" x2="${W - R}" y1="${slo}" y2="${slo}" stroke="#dc2626" stroke-dasharray="5 3"><title>SLO: network programming p99 30 s</title></line>`,
    `<text x="${W - R - 4}" y="${+slo - 4}" text-anchor="end" class="bound">SLO p99 30 s (network programming)</text>`,
  );
  lines.forEach((l, i) => {
    out.push(
      `<polyline fill="none" stroke="${l.color}" stroke-width="2" ${l.dash ? `stroke-dasharray="${l.dash}"` : ''} points="${l.pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`,
      ...l.pts.map(
        (p) =>
          `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${l.color}"><title>${html(`${l.label} at ${p.x} Services: ${fmt(p.y)}`)}</title></circle>`,
      ),
      `<line x1="${W - R + 14}" x2="${W - R + 40}" y1="${T + 8 + i * 18}" y2="${T + 8 + i * 18}" stroke="${l.color}" stroke-width="2" ${l.dash ? `stroke-dasharray="${l.dash}"` : ''}/>`,
      `<text x="${W - R + 46}" y="${T + 12 + i * 18}" class="lane">${html(l.label)}</text>`,
    );
  });
  const label = `Latency against the number of Services: ${lines.map((l) => `${l.label} ${l.pts.map((p) => `${p.x}: ${fmt(p.y)}`).join(', ')}`).join('; ')}`;
  return (
    `<figure class="chart" id="scale-growth"><figcaption>Latency against the number of Services <small>(p50 dashed, p99 solid; logarithmic time)</small></figcaption>` +
    `<svg role="img" aria-label="${html(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><title>${html(label)}</title>${out.join('')}</svg></figure>`
  );
}

/** The distribution of one measure at each size: its cumulative share against time. */
function distributionChart(steps: ScaleStep[], m: (typeof MEASURES)[number]): string {
  const series = steps
    .map((s, i) => ({ services: s.services, color: COLORS[i % COLORS.length]!, vs: timesOf(s, m.key).sort((a, b) => a - b) }))
    .filter((x) => x.vs.length);
  if (!series.length) return '';
  const W = 900;
  const H = 260;
  const L = 70;
  const R = 200;
  const T = 16;
  const B = 44;
  const all = series.flatMap((s) => s.vs);
  const lo = Math.floor(Math.log10(Math.max(Math.min(...all), 0.1)));
  // The axis reaches the SLO, where a measure has one: how far the samples are from it shows.
  const hi = Math.max(Math.ceil(Math.log10(Math.max(...all, m.slo ?? 1, 1))), lo + 1);
  const px = (v: number): number => L + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (W - L - R);
  const py = (f: number): number => T + (1 - f) * (H - T - B);
  const out: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const x = px(10 ** d).toFixed(1);
    out.push(
      `<line x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="#e5e7eb"/><text x="${x}" y="${H - B + 16}" text-anchor="middle" class="tick">${fmt(10 ** d)}</text>`,
    );
  }
  for (const f of [0, 0.5, 0.9, 1]) {
    const y = py(f).toFixed(1);
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#f3f4f6"/><text x="${L - 6}" y="${y}" text-anchor="end" class="tick">${f * 100}%</text>`,
    );
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle" class="axis">time (logarithmic)</text>`);
  if (m.slo) {
    const x = px(m.slo).toFixed(1);
    out.push(
      `<line class="bound" x1="${x}" x2="${x}" y1="${T}" y2="${H - B}" stroke="#dc2626" stroke-dasharray="5 3"/><text x="${+x - 4}" y="${T + 10}" text-anchor="end" class="bound">SLO p99 ${fmt(m.slo)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const pts = s.vs.map((v, k) => `${px(v).toFixed(1)},${py((k + 1) / s.vs.length).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${px(s.vs[0]!).toFixed(1)},${py(0).toFixed(1)} ${pts.join(' ')}"/>`,
      `<line x1="${W - R + 14}" x2="${W - R + 40}" y1="${T + 8 + i * 18}" y2="${T + 8 + i * 18}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${W - R + 46}" y="${T + 12 + i * 18}" class="lane">${s.services} Services (n ${s.vs.length})</text>`,
    );
  });
  const label = `${m.title}, distribution: ${series.map((s) => `${s.services} Services: ${s.vs.length} samples, median ${fmt(s.vs[Math.ceil(s.vs.length / 2) - 1])}, max ${fmt(s.vs[s.vs.length - 1])}`).join('; ')}`;
  return (
    `<figure class="chart scale-dist"><figcaption>${html(m.title)}: distribution <small>(share of samples at or below each time)</small></figcaption>` +
    `<svg role="img" aria-label="${html(label)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg"><title>${html(label)}</title>${out.join('')}</svg></figure>`
  );
}

/** The HTML section: empty when the run did not run the scale profile. */
export function scaleSection(r: RunReport): string {
  const steps = scaleSteps(r);
  if (!steps.length) return '';
  const table = MEASURES.map((m) =>
    rowsOf(steps, m.key)
      .map(
        (row, i, all) =>
          `<tr>${i ? '' : `<td rowspan="${all.length}">${html(m.title)}</td>`}<td>${row.services}</td><td>${fmt(row.overall?.p50)}</td><td>${fmt(row.overall?.p90)}</td>` +
          `<td class="${m.slo && (row.overall?.p99 ?? 0) > m.slo ? 'over' : ''}">${fmt(row.overall?.p99)}</td><td>${fmt(row.overall?.max)}</td>` +
          `<td>${row.overall?.n ?? 0}</td><td>${row.missed}</td><td>${m.slo ? `p99 ≤ ${fmt(m.slo)}` : '—'}</td></tr>`,
      )
      .join(''),
  ).join('');
  const s0 = steps[steps.length - 1]!;
  return (
    `<h2>At scale</h2><p>${s0.services} Services of ${s0.endpoints} endpoints, grown in ${steps.length} steps; at each, Services created, ` +
    'switched to another backend and deleted while the load churned, each timed from the API write until every node served it ' +
    '(nearest-rank percentiles; "missed": not within the bound, or a query lost).</p>' +
    '<table id="scale" class="num"><thead><tr><th>Measure</th><th>Services</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>n</th><th>missed</th><th>upstream target</th></tr></thead>' +
    `<tbody>${table}</tbody></table>` +
    growthChart(steps) +
    MEASURES.map((m) => distributionChart(steps, m)).join('')
  );
}
