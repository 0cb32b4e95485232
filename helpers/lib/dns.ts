// DNS questions, answer sets and failure messages. Answers are compared as sets,
// names case-insensitively; every failure message shows the question, the server,
// the expected answer and the actual rcode and records.
import type { DnsAnswer, DnsRecord } from '../../probe/contract.ts';

export const norm = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export interface DnsServer {
  /** What the server is: the Pod's resolver, the DNS Service, or a replica (with its Pod's name). */
  label: string;
  ip: string;
  /** A cache may serve an answer until its TTL runs out; an authoritative server (a replica,
   *  or an address answered by the replicas) follows a change within the bound. */
  role?: 'authoritative' | 'cache';
}

/** The record data of `type` in the answer section, normalised and sorted. */
export function answerSet(a: DnsAnswer, type: string = a.question.type): string[] {
  return a.answers
    .filter((r) => r.type === type)
    .map((r) => normData(r))
    .sort();
}

function normData(r: DnsRecord): string {
  if (r.type === 'CNAME' || r.type === 'PTR' || r.type === 'NS') return norm(r.data);
  if (r.type === 'SRV') {
    const [p, w, port, target] = r.data.split(' ');
    return `${p} ${w} ${port} ${norm(target ?? '')}`;
  }
  return r.data;
}

function recordLine(r: DnsRecord): string {
  return `    ${r.name}.\t${r.ttl}\tIN\t${r.type}\t${r.data}`;
}

/** A dig-like rendering of one exchange: question, server, rcode, flags and all sections. */
export function formatAnswer(a: DnsAnswer, serverLabel?: string): string {
  const qn = a.question;
  const lines = [
    `question: ${qn.name}. ${qn.type} @${qn.server}${serverLabel ? ` (${serverLabel})` : ''} over ${a.transport}${qn.edns ? `, EDNS0 ${qn.edns}` : ''}`,
  ];
  if (a.error) {
    lines.push(`  no answer: ${a.error} (after ${a.ms.toFixed(0)} ms)`);
    return lines.join('\n');
  }
  const f = a.flags;
  lines.push(
    `  rcode: ${a.rcode}, flags: ${
      f
        ? Object.entries(f)
            .filter(([, v]) => v)
            .map(([k]) => k)
            .join(' ')
        : ''
    }${a.udpTruncated ? ' (UDP answer was truncated)' : ''}, ${a.ms.toFixed(1)} ms`,
  );
  lines.push(`  answer (${a.answers.length}):`, ...a.answers.map(recordLine));
  if (a.authority.length) lines.push(`  authority (${a.authority.length}):`, ...a.authority.map(recordLine));
  return lines.join('\n');
}

export interface Expectation {
  rcode: string;
  /** The exact set of record data of the question's type; [] means none (NODATA when NOERROR). */
  set?: string[];
  /** Records of this type are compared instead of the question's type (e.g. CNAME for ExternalName). */
  type?: string;
  /** NODATA: the authority section must hold an SOA. */
  soa?: boolean;
  /** Records of the question's type that must be among the answer (others allowed: an
   *  extension the spec leaves open, such as extra PTRs). */
  includes?: string[];
}

/** Returns a problem description, or undefined when the answer is as expected. */
export function mismatch(a: DnsAnswer, exp: Expectation): string | undefined {
  if (a.error) return `no answer: ${a.error}`;
  if (a.rcode !== exp.rcode) return `rcode ${a.rcode}, expected ${exp.rcode}`;
  if (exp.set) {
    const type = exp.type ?? a.question.type;
    // The spec fixes an SRV record's port and target, not its priority and weight.
    const key = (s: string): string => (type === 'SRV' ? s.split(' ').slice(-2).join(' ') : s);
    const got = answerSet(a, exp.type).map(key).sort();
    const want = exp.set.map((s) => key(type === 'A' || type === 'AAAA' ? s : norm(s))).sort();
    const extra = got.filter((x) => !want.includes(x));
    const missing = want.filter((x) => !got.includes(x));
    if (extra.length || missing.length || got.length !== want.length) {
      return (
        `answer set differs: missing [${missing.join(', ')}], unexpected ` +
        `[${extra.join(', ')}]${got.length !== new Set(got).size ? ', duplicates present' : ''}`
      );
    }
  }
  if (exp.includes) {
    const got = answerSet(a, exp.type);
    const missing = exp.includes.map(norm).filter((x) => !got.includes(x));
    if (missing.length) return `answer lacks [${missing.join(', ')}]`;
  }
  if (exp.soa && !a.authority.some((r) => r.type === 'SOA')) return 'no SOA in the authority section';
  return undefined;
}

export function expectationText(exp: Expectation, type: string): string {
  const set = exp.set
    ? exp.set.length
      ? `{${[...exp.set].sort().join(', ')}}`
      : 'no records'
    : exp.includes
      ? `including {${[...exp.includes].sort().join(', ')}}`
      : 'any records';
  return `rcode ${exp.rcode}, ${exp.type ?? type} ${set}${exp.soa ? ', SOA in authority' : ''}`;
}

type Failure = { answer: DnsAnswer; label?: string; problem: string; expected: string };

export class DnsMismatch extends Error {
  readonly failures: Failure[];

  constructor(failures: Failure[], context: string) {
    super(
      `${context}: ${failures.length} answer(s) differ from the expected\n\n` +
        failures.map((f) => `${formatAnswer(f.answer, f.label)}\n  expected: ${f.expected}\n  problem:  ${f.problem}`).join('\n\n'),
    );
    this.name = 'DnsMismatch';
    this.failures = failures;
  }
}

/** Throws DnsMismatch listing every answer that does not meet its expectation. */
export function assertAnswers(items: { answer: DnsAnswer; label?: string; exp: Expectation }[], context: string): void {
  const failures = items.flatMap(({ answer, label, exp }) => {
    const problem = mismatch(answer, exp);
    return problem ? [{ answer, label, problem, expected: expectationText(exp, answer.question.type) }] : [];
  });
  if (failures.length) throw new DnsMismatch(failures, context);
}

/** nslookup-style transcript lines for the report. */
export function transcript(a: DnsAnswer, label?: string): string {
  const lines = [`Server:\t\t${a.question.server}${label ? ` (${label})` : ''}`, `Question:\t${a.question.name} ${a.question.type}`];
  if (a.error) lines.push(`** no answer: ${a.error}`);
  else if (a.rcode !== 'NOERROR') lines.push(`** server can't find ${a.question.name}: ${a.rcode}`);
  else if (!a.answers.length) lines.push(`*** no ${a.question.type} records for ${a.question.name} (NODATA)`);
  for (const r of a.answers) {
    if (r.type === 'A' || r.type === 'AAAA') lines.push(`Name:\t${r.name}`, `Address: ${r.data}`);
    else lines.push(`${r.name}\t${r.type.toLowerCase()} = ${r.data}`);
  }
  return lines.join('\n');
}
