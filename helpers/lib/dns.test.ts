// Unit tests for the DNS helpers and the probe's resolv.conf parser, fed with output
// captured from the bundled cluster (see testdata/README.md).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DnsAnswer } from '../../probe/contract.ts';
import { parseResolvConf } from '../../probe/probe.ts';
import { answerSet, assertAnswers, DnsMismatch, mismatch, transcript } from './dns.ts';
import { familyOf, hostPort, inCidr, ofFamily, reverseName } from './net.ts';
import { template } from '../cluster/apply.ts';

const here = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const answers = JSON.parse(fs.readFileSync(path.join(here, 'testdata/dns-answers.captured.json'), 'utf8')) as DnsAnswer[];
const [a, aaaa, nx, srv, ptr, txt] = answers as [DnsAnswer, DnsAnswer, DnsAnswer, DnsAnswer, DnsAnswer, DnsAnswer];

describe('resolv.conf parsing', () => {
  test('reads the search path, nameserver and ndots the kubelet wrote', () => {
    const rc = parseResolvConf(fs.readFileSync(path.join(here, 'testdata/resolv.conf.captured'), 'utf8'));
    expect(rc).toEqual({
      nameservers: ['10.96.0.10'],
      search: ['capture.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
    });
  });
});

describe('answer comparison', () => {
  test('an A answer matches its exact set, and a wrong or extra address is a mismatch', () => {
    expect(answerSet(a)).toEqual(['10.96.0.1']);
    expect(mismatch(a, { rcode: 'NOERROR', set: ['10.96.0.1'] })).toBeUndefined();
    expect(mismatch(a, { rcode: 'NOERROR', set: ['10.96.0.2'] })).toMatch(/missing \[10\.96\.0\.2\], unexpected \[10\.96\.0\.1\]/);
    expect(mismatch(a, { rcode: 'NOERROR', set: ['10.96.0.1', '10.96.0.2'] })).toMatch(/missing \[10\.96\.0\.2\]/);
  });

  test('NODATA is NOERROR with no records and an SOA in authority; NXDOMAIN is not NODATA', () => {
    expect(mismatch(aaaa, { rcode: 'NOERROR', set: [], soa: true })).toBeUndefined();
    expect(mismatch(nx, { rcode: 'NOERROR', set: [], soa: true })).toBe('rcode NXDOMAIN, expected NOERROR');
    expect(mismatch(nx, { rcode: 'NXDOMAIN', set: [] })).toBeUndefined();
  });

  test('an "includes" expectation allows extra records (extra PTRs) but not a missing one', () => {
    expect(mismatch(ptr, { rcode: 'NOERROR', includes: ['kubernetes.default.svc.cluster.local'] })).toBeUndefined();
    expect(mismatch(ptr, { rcode: 'NOERROR', includes: ['web-api.default.svc.cluster.local'] })).toBe(
      'answer lacks [web-api.default.svc.cluster.local]',
    );
  });

  test('SRV, PTR and TXT data compare by normalised text, names case-insensitively', () => {
    expect(answerSet(srv)).toEqual(['0 100 53 kube-dns.kube-system.svc.cluster.local']);
    expect(mismatch(ptr, { rcode: 'NOERROR', set: ['Kubernetes.Default.svc.cluster.local.'] })).toBeUndefined();
    expect(answerSet(txt)).toEqual(['1.1.0']);
  });

  test('a failure message shows the question, the server, the expected and the actual answer', () => {
    let err: unknown;
    try {
      assertAnswers([{ answer: a, label: 'replica coredns-x', exp: { rcode: 'NOERROR', set: ['10.96.0.9'] } }], 'kubernetes.default A');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DnsMismatch);
    const msg = (err as Error).message;
    for (const part of [
      'question: kubernetes.default.svc.cluster.local. A @10.96.0.10 (replica coredns-x)',
      'rcode: NOERROR',
      '10.96.0.1',
      'expected: rcode NOERROR, A {10.96.0.9}',
    ]) {
      expect(msg).toContain(part);
    }
  });

  test('transcripts read like nslookup', () => {
    expect(transcript(a)).toBe(
      'Server:\t\t10.96.0.10\nQuestion:\tkubernetes.default.svc.cluster.local A\nName:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1',
    );
    expect(transcript(nx)).toContain("** server can't find nope.default.svc.cluster.local: NXDOMAIN");
  });
});

describe('address and manifest helpers', () => {
  test('CIDR membership and reverse names', () => {
    expect(inCidr('10.96.0.10', '10.96.0.0/16')).toBe(true);
    expect(inCidr('10.244.1.5', '10.96.0.0/16')).toBe(false);
    expect(reverseName('10.96.0.1')).toBe('1.0.96.10.in-addr.arpa');
    // RFC 3596 section 2.5's example, and a compressed address as the API writes it.
    expect(reverseName('4321:0:1:2:3:4:567:89ab')).toBe('b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa');
    expect(reverseName('fd00:10:96::a')).toBe('a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa');
    expect(inCidr('fd00:10:96::a', 'fd00:10:96::/112')).toBe(true);
    expect(inCidr('10.96.0.10', 'fd00:10:96::/112')).toBe(false);
    expect(familyOf('fd00:10:244::2')).toBe('IPv6');
    expect(ofFamily(['10.96.0.1', 'fd00:10:96::1'], 'IPv6')).toEqual(['fd00:10:96::1']);
    expect(hostPort('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(hostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });

  test('templating replaces every placeholder and refuses an unknown one', () => {
    expect(template('image: ${PROBE_IMAGE}', { PROBE_IMAGE: 'x:1' })).toBe('image: x:1');
    expect(() => template('replicas: ${REPLICAS}', {})).toThrow(/\$\{REPLICAS\} has no value/);
  });
});
