// Evidence for the reports: DNS transcripts, measured times and counts, recorded per
// check and written as JSON (one file per suite) under SVC_EVIDENCE_DIR.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentCheck } from './current-check.ts';
import { currentTarget } from '../config/target.ts';

/** What a call records in the evidence, in a word ('web-api-slices', 'cache-after'): the
 *  part of the running check it is about (filed under the check's id, as the item's
 *  detail), or, outside any check, the item's own name ('setup'). */
export type EvidenceLabel = string;

export interface EvidenceItem {
  /** The id of the check that recorded it ('setup' for the suite's own). */
  check: string;
  /** Which part of the check (a name, a step), when a check records several. */
  detail?: string;
  kind: 'transcript' | 'measurement' | 'info' | 'counts' | 'family';
  text?: string;
  value?: unknown;
}

/** What a time measures: a convergence after a change (DNS, EndpointSlices, the Service
 *  proxy, kube-proxy's rules), or a DNS cache's lag behind the replicas. */
export type MeasureKind = 'DNS' | 'EndpointSlices' | 'Service proxy' | 'proxy rules' | 'DNS cache lag';
export interface Measurement {
  name: string;
  value: number;
  unit: string;
  /** Typed for times after a change (absent for other measurements: TTLs, counts). */
  kind?: MeasureKind;
  converged?: boolean;
}

export class Evidence {
  private items: EvidenceItem[] = [];
  readonly suite: string;

  constructor(suite: string) {
    this.suite = suite;
  }

  /** Files the item under the running check's id; the caller's label (item.check) becomes
   *  its detail. */
  add(item: EvidenceItem): void {
    const id = currentCheck();
    this.items.push(id && id !== item.check ? { ...item, check: id, detail: item.check } : item);
  }

  transcript(label: EvidenceLabel, text: string): void {
    this.add({ check: label, kind: 'transcript', text });
  }

  /** Records a measurement; `print` false keeps it out of the console (still reported). */
  measure(
    label: EvidenceLabel,
    name: string,
    value: number,
    unit: string,
    print = true,
    typed: Pick<Measurement, 'kind' | 'converged'> = {},
  ): void {
    const m: Measurement = { name, value, unit, ...typed };
    this.add({ check: label, kind: 'measurement', value: m });
    if (print && !currentTarget().quiet)
      process.stdout.write(`  [measure] ${this.suite} / ${currentCheck() ?? label}: ${name} = ${value} ${unit}\n`);
  }

  /** A convergence time after a change, as data: its kind, whether the wait saw the state
   *  change (converged) or found it right at the first look (then ms is an upper bound). */
  convergence(label: EvidenceLabel, kind: MeasureKind, polls: number, ms: number, what: string, print = polls > 1): void {
    const name = polls > 1 ? `${kind} converged: ${what}` : `${kind} right at the first look (upper bound): ${what}`;
    this.measure(label, name, ms, 'ms', print, { kind, converged: polls > 1 });
  }

  /** Records that the check ran in an IP family (its addresses, virtual IPs, questions). */
  family(label: EvidenceLabel, family: 'IPv4' | 'IPv6'): void {
    this.add({ check: label, kind: 'family', value: family });
  }

  info(label: EvidenceLabel, text: string, value?: unknown): void {
    this.add({ check: label, kind: 'info', text, value });
  }

  write(): string {
    const dir = currentTarget().evidenceDir;
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${this.suite}.json`);
    fs.writeFileSync(file, JSON.stringify({ suite: this.suite, runId: currentTarget().runId, items: this.items }, null, 2));
    return file;
  }
}
