// Large answers: a headless Service over 60 Pods does not fit a 512-byte UDP message.
// Without EDNS0 the UDP answer is truncated (TC) and the TCP answer holds all 60; with
// EDNS0 at 4096 the UDP answer holds all 60; every record matches the ready set.
import { describe } from '@jest/globals';
import { apply } from '../helpers/cluster/apply.ts';
import { answerSet, assertAnswers, formatAnswer } from '../helpers/lib/dns.ts';
import { once, defineSuite } from '../helpers/harness/suite.ts';
import { expectRows, fromProbe } from '../helpers/harness/verdict.ts';
import { rolloutReady } from '../helpers/cluster/workloads.ts';

const { ctx, check } = defineSuite('dns-large', { probes: 1 });
const N = 60;
let ips: string[] = [];
const setup = once(async () => {
  await apply(ctx.ns, 'many-pods.yaml', { REPLICAS: N });
  ips = (await rolloutReady(ctx.ns, 'Deployment', 'many', N, 300_000)).map((p) => p.ip!);
  const since = Date.now();
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
  check('dns.large.tc-and-tcp', async () => {
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
      tcp.map((r) => ({ answer: r.answer, label: r.server.label, exp: { rcode: 'NOERROR', set: ips } })),
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
      fallback.map((r) => ({ answer: r.answer, label: r.server.label, exp: { rcode: 'NOERROR', set: ips } })),
      `${name} address records after TCP fallback`,
    );
    ctx.evidence.info(
      'large-tcp',
      `UDP answer without EDNS0 truncated; TCP answer has ${answerSet(tcp[0]!.answer).length} address records`,
    );
  });

  check('dns.large.edns0', async () => {
    await setup();
    const name = ctx.svcName('many');
    const udp = await ctx.askEverywhere((s) => [{ name, type: ctx.primaryType('large'), server: s.ip, edns: 4096, noTcpFallback: true }]);
    assertAnswers(
      udp.map((r) => ({ answer: r.answer, label: r.server.label, exp: { rcode: 'NOERROR', set: ips } })),
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
  });
});
