// Large answers: a headless Service with 60 ready endpoints does not fit a 512-byte UDP
// message (60 A records take 960 bytes; 33 would already exceed 512 under any name).
// Without EDNS0 the UDP answer is truncated (TC) and the TCP answer holds all 60; with
// EDNS0 at 4096 the UDP answer holds all 60; every record matches the ready set. The
// endpoints are a hand-made EndpointSlice of documentation addresses (a Service without a
// selector, as the Service documentation shows): the message size is the claim, and 60
// real Pods would cost the run more than all its other checks' Pods together.
import { apply } from '../helpers/cluster/apply.ts';
import { answerSet, assertAnswers, formatAnswer } from '../helpers/lib/dns.ts';
import { src } from './data/sources.ts';
import { once, defineSuite, describe } from '../helpers/harness/suite.ts';
import { expectRows, fromProbe } from '../helpers/harness/verdict.ts';
import { docAddress, ofFamily, type IpFamily } from '../helpers/lib/net.ts';

const { ctx, check } = defineSuite('dns-large', { probes: 1 });
const N = 60;
const ips: string[] = [];
/** The addresses of the family the checks ask about (ctx.primaryType: the cluster's first). */
const primaryIps = (): string[] => ofFamily(ips, (ctx.families()[0] ?? 'IPv4') as IpFamily);
const setup = once(async () => {
  const since = Date.now();
  // One EndpointSlice per family the cluster serves, N ready addresses each.
  for (const f of ctx.families()) {
    const addrs = Array.from({ length: N }, (_, i) => docAddress(f, i + 1));
    ips.push(...addrs);
    await apply(ctx.ns, 'many-endpoints.yaml', {
      ADDRESS_TYPE: f,
      SLICE_SUFFIX: f.toLowerCase(),
      ENDPOINTS: JSON.stringify(addrs.map((a) => ({ addresses: [a], conditions: { ready: true } }))),
    });
  }
  await ctx.slicesSettled('large-slices', 'many', ips, since);
  // Every server knows all N before the message-size checks (over TCP, which always fits).
  await ctx.convergeEverywhere(
    'large-converged',
    ctx.svcName('many'),
    'address',
    { rcode: 'NOERROR', set: ips },
    { since, extra: { tcp: true } },
  );
});

describe('large answers', () => {
  check({
    id: 'dns.large.tc-and-tcp',
    level: 'required',
    claim: 'a headless Service with 60 ready endpoints: without EDNS0 the UDP answer has TC set, and the TCP answer holds all 60',
    source: src.rfc(7766, 'DNS over TCP'),
    run: async () => {
      await setup();
      const name = ctx.svcName('many');
      const udp = await ctx.askEverywhere((s) => [{ name, type: ctx.primaryType('large'), server: s.ip, noTcpFallback: true }]);
      const notTruncated = udp.filter((r) => !r.answer.flags?.tc);
      if (notTruncated.length)
        throw new Error(
          `expected TC on the 512-byte UDP answer:\n${notTruncated.map((r) => formatAnswer(r.answer, r.server.label)).join('\n')}`,
        );
      const tcp = await ctx.askEverywhere((s) => [{ name, type: ctx.primaryType('large'), server: s.ip, tcp: true }]);
      assertAnswers(
        tcp.map((r) => ({ answer: r.answer, label: r.server.label, exp: { rcode: 'NOERROR', set: primaryIps() } })),
        `${name} address records over TCP`,
      );
      // The fallback path of an ordinary client: UDP, TC, then TCP.
      const fallback = await ctx.askEverywhere((s) => [{ name, type: ctx.primaryType('large'), server: s.ip }]);
      expectRows(
        {
          what: 'an answer truncated over UDP (no EDNS0) is asked again over TCP, as an ordinary client does',
          target: `${name} (${N} address records)`,
          protocol: 'dns',
        },
        fallback.map((r) => ({
          ...fromProbe(r.probe, ctx.ns),
          target: `${r.answer.question.type} @${r.server.ip} (${r.server.label})`,
          expected: 'udp+tcp',
          observed: r.answer.transport,
        })),
      );
      assertAnswers(
        fallback.map((r) => ({ answer: r.answer, label: r.server.label, exp: { rcode: 'NOERROR', set: primaryIps() } })),
        `${name} address records after TCP fallback`,
      );
      ctx.evidence.info(
        'large-tcp',
        `UDP answer without EDNS0 truncated; TCP answer has ${answerSet(tcp[0]!.answer).length} address records`,
      );
    },
  });

  check({
    id: 'dns.large.edns0',
    level: 'expected',
    claim: 'with EDNS0 at 4096 the UDP answer holds all 60, exactly the ready set',
    source: src.rfc(6891, 'EDNS0'),
    why:
      'A server may advertise a smaller UDP size than the client (RFC 6891) and answer ' +
      'with TC instead; CoreDNS without a bufsize limit fits 60 A records in 4096 bytes.',
    run: async () => {
      await setup();
      const name = ctx.svcName('many');
      const udp = await ctx.askEverywhere((s) => [{ name, type: ctx.primaryType('large'), server: s.ip, edns: 4096, noTcpFallback: true }]);
      assertAnswers(
        udp.map((r) => ({ answer: r.answer, label: r.server.label, exp: { rcode: 'NOERROR', set: primaryIps() } })),
        `${name} address records over UDP with EDNS0 4096`,
      );
      expectRows(
        {
          what: 'an answer of all the address records fits one UDP message with EDNS0 at 4096: TC not set',
          target: `${name} (${N} address records) with EDNS0 4096, no TCP fallback`,
          protocol: 'dns',
        },
        udp.map((r) => ({
          ...fromProbe(r.probe, ctx.ns),
          target: `${r.answer.question.type} @${r.server.ip} (${r.server.label})`,
          expected: false,
          observed: r.answer.flags?.tc,
        })),
      );
    },
  });
});
