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

export const KNOWN_DIFFERENCES: KnownDifference[] = [
  {
    implementation: 'kube-proxy v1.37.2, ipvs mode (Debian 6.1 kernel)',
    column: 'ipvs',
    checks: ['proxy.affinity.timeout'],
    verdict: 'fail',
    difference:
      'sessionAffinityConfig.clientIP.timeoutSeconds is not honoured: IPVS keeps the persistence template while any ' +
      "connection entry of the client's remains, and a closed TCP connection stays in IPVS's TIME_WAIT state for 120 s, " +
      'so affinity outlasts a short timeout by about two minutes',
    evidence:
      'timeoutSeconds 3: after 10 back-to-back connections on one backend, 10 more connections each after 4.5 s idle ' +
      'all reached that same backend ("released": false), where iptables and nftables mode spread them (2026-12-05, 1 VM node)',
    upstream: {
      title: "kubernetes/kubernetes#89358: kube-proxy ipvs session affinity is always sticky and doesn't honor the timeout",
      url: 'https://github.com/kubernetes/kubernetes/issues/89358',
    },
    code: 'Linux net/netfilter/ipvs/ip_vs_proto_tcp.c: tcp_timeouts[IP_VS_TCP_S_TIME_WAIT] = 2*60*HZ',
  },
];
