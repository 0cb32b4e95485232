// Known differences: where a real Service proxy implementation differs from the documented
// behaviour a check holds it to, as the suite found it on the bundled cluster. The check keeps
// its level and its verdict there; this list explains the verdict, with the evidence and,
// where it exists, the implementation's own upstream issue. The README's "Known differences"
// section is generated from it (helpers/tools/readme-checks.ts --write), and a unit test
// holds every id to the registry.

export interface KnownDifference {
  /** The implementation, as its matrix column runs it. */
  implementation: string;
  /** The matrix column (examples/matrix/example.yaml) where it shows. */
  column: string;
  /** The checks whose verdict it explains. */
  checks: string[];
  /** The verdict there: fail (required level) or warning (expected level). */
  verdict: 'fail' | 'warning';
  /** What the documentation says, and what the implementation does instead. */
  difference: string;
  /** What the suite observed (the failure's question and answers, in short). */
  evidence: string;
  /** The implementation's own issue or pull request about it, where one exists. */
  upstream?: { title: string; url: string };
  /** Where the implementation's source shows it (file:line in its module, at the version run). */
  code?: string;
}

export const KNOWN_DIFFERENCES: KnownDifference[] = [];
