// The checking vocabulary (verdict.ts): its equality is Jest's toEqual for the data the
// suites compare, its failures name the question and both answers, and every assertion in
// suites/*.test.ts goes through it (no bare Jest expect, whose failure is a diff alone).
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from '../config/target.ts';
import { CheckFailure, expectRows, expectSame, expectThat, fromProbe, type Question, same, show } from './verdict.ts';

/** The failure's message, or undefined when the check holds. */
const failureOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(CheckFailure);
    return (e as Error).message;
  }
};

class Endpoint {
  addresses: string[];
  ready?: boolean;
  constructor(addresses: string[], ready?: boolean) {
    this.addresses = addresses;
    if (ready !== undefined) this.ready = ready;
  }
}

describe('same: the equality of Jest toEqual', () => {
  const jestEqual = (a: unknown, b: unknown): boolean => {
    try {
      expect(a).toEqual(b);
      return true;
    } catch {
      return false;
    }
  };
  const sparse: unknown[] = [1];
  sparse[2] = 3; // a hole at [1]
  const cases: [string, unknown, unknown][] = [
    ['equal strings', 'web-api-0', 'web-api-0'],
    ['different strings', 'web-api-0', 'ETIMEDOUT after 3000 ms'],
    ['undefined and a string', undefined, 'x'],
    ['undefined and null', undefined, null],
    ['0 and -0', 0, -0],
    ['NaN and NaN', NaN, NaN],
    ['a number and its string', 5, '5'],
    ['an undefined property and an absent one', { a: 1, error: undefined }, { a: 1 }],
    ['an undefined property and a set one', { a: 1, error: undefined }, { a: 1, error: 'ECONNREFUSED' }],
    ['a null property and an absent one', { a: null }, {}],
    ['key order', { a: 1, b: 2 }, { b: 2, a: 1 }],
    ['a count map with another backend', { 'drain-1': 20 }, { 'drain-0': 12, 'drain-1': 8 }],
    ['a trailing undefined entry', [1, undefined], [1]],
    ['only undefined entries and none', [undefined, undefined], []],
    ['an undefined entry and a value', [undefined], ['x']],
    ['a leading undefined entry', [undefined, 1], [1]],
    ['a hole and an undefined entry', sparse, [1, undefined, 3]],
    ['arrays in another order', [1, 2], [2, 1]],
    ['an array and an object with its indices', [1], { 0: 1 }],
    ['nested undefined properties', [{ a: [{ b: undefined }] }], [{ a: [{}] }]],
    ['nested different values', [{ a: [{ b: 1 }] }], [{ a: [{ b: 2 }] }]],
    ['a class instance and a plain object', new Endpoint(['10.0.0.1']), { addresses: ['10.0.0.1'] }],
    ['a class instance and a different plain object', new Endpoint(['10.0.0.1'], true), { addresses: ['10.0.0.1'] }],
    ['empty list and list of empty list', [], [[]]],
    ['booleans', true, false],
  ];
  test.each(cases)('%s: as toEqual', (_name, a, b) => {
    expect(same(a, b)).toBe(jestEqual(a, b));
    expect(same(b, a)).toBe(jestEqual(b, a));
  });
});

describe('failure messages name the question and both answers', () => {
  const hairpin: Question = {
    what: 'a Pod reaches itself through its own Service (hairpin)',
    client: 'web-api-7d9f',
    node: 'kind-worker',
    target: '10.96.12.7:80',
    protocol: 'tcp',
    unit: 'connections',
  };

  test('the hairpin: five timeouts against the backend Pod name', () => {
    const observed = Array<string>(5).fill('ETIMEDOUT after 3000 ms');
    const message = failureOf(() => expectSame(hairpin, Array<string>(5).fill('web-api-7d9f'), observed));
    expect(message).toBe(
      [
        'a Pod reaches itself through its own Service (hairpin): 5 of 5 connections differ from the expected "web-api-7d9f": observed "ETIMEDOUT after 3000 ms" (5)',
        '  question: from web-api-7d9f on node kind-worker to 10.96.12.7:80 over tcp',
        '  expected: ["web-api-7d9f","web-api-7d9f","web-api-7d9f","web-api-7d9f","web-api-7d9f"]',
        '  observed: ["ETIMEDOUT after 3000 ms","ETIMEDOUT after 3000 ms","ETIMEDOUT after 3000 ms","ETIMEDOUT after 3000 ms","ETIMEDOUT after 3000 ms"]',
      ].join('\n'),
    );
    expect(
      failureOf(() => expectSame(hairpin, Array<string>(5).fill('web-api-7d9f'), Array<string>(5).fill('web-api-7d9f'))),
    ).toBeUndefined();
  });

  test('a mix of answers is tallied in the first line', () => {
    const message = failureOf(() =>
      expectSame(hairpin, Array<string>(5).fill('web-api-7d9f'), [
        'web-api-7d9f',
        'ECONNREFUSED',
        'ETIMEDOUT after 3000 ms',
        'ECONNREFUSED',
        'web-api-7d9f',
      ]),
    );
    expect(message?.split('\n')[0]).toBe(
      'a Pod reaches itself through its own Service (hairpin): 3 of 5 connections differ from the expected "web-api-7d9f": ' +
        'observed "ECONNREFUSED" (2), "ETIMEDOUT after 3000 ms" (1)',
    );
  });

  test('a count map: which backend got what', () => {
    const q: Question = {
      what: 'new connections never reach a terminating endpoint while a ready one exists',
      ...fromProbe({ ns: 'svc-fleet', pod: 'svc-probe-a1', node: 'kind-worker' }, 'proxy-terminating-x1'),
      target: '10.96.40.2:80',
      protocol: 'tcp',
    };
    expect(failureOf(() => expectSame(q, { 'drain-1': 20 }, { 'drain-0': 12, 'drain-1': 8 }))).toBe(
      [
        'new connections never reach a terminating endpoint while a ready one exists: drain-1: expected 20, observed 8; drain-0: not expected, observed 12',
        '  question: from svc-fleet/svc-probe-a1 on node kind-worker to 10.96.40.2:80 over tcp',
        '  expected: {"drain-1":20}',
        '  observed: {"drain-0":12,"drain-1":8}',
      ].join('\n'),
    );
  });

  test('a spread: the backends that answered against the ready ones', () => {
    const q: Question = {
      what: 'connections to a ClusterIP spread over every ready backend',
      client: 'svc-fleet/svc-probe-a1',
      node: 'kind-worker',
      target: '10.96.0.20:80',
      protocol: 'http',
      unit: 'answerers',
    };
    expect(
      failureOf(() =>
        expectSame(q, ['web-api-a', 'web-api-b', 'web-api-c'], ['error: ECONNRESET', 'web-api-a', 'web-api-b', 'web-api-c']),
      )?.split('\n')[0],
    ).toBe(
      'connections to a ClusterIP spread over every ready backend: expected 3 answerers, observed 4: unexpected ["error: ECONNRESET"]',
    );
    expect(failureOf(() => expectSame(q, ['web-api-a', 'web-api-b', 'web-api-c'], ['web-api-a', 'web-api-b']))?.split('\n')[0]).toBe(
      'connections to a ClusterIP spread over every ready backend: expected 3 answerers, observed 2: missing ["web-api-c"]',
    );
  });

  test('a list per node: one line per client, the one that differs marked', () => {
    const q: Question = { what: 'Pods on every node reach a Service at its external IP', target: '172.18.0.3:19091', protocol: 'tcp' };
    const message = failureOf(() =>
      expectRows(q, [
        { client: 'svc-probe-a', node: 'kind-control-plane', expected: { 'ext-api-0': 5 }, observed: { 'ext-api-0': 5 } },
        { client: 'svc-probe-b', node: 'kind-worker', expected: { 'ext-api-0': 5 }, observed: { 'error: ETIMEDOUT after 3000 ms': 5 } },
        { client: 'svc-probe-c', node: 'kind-worker2', expected: { 'ext-api-0': 5 }, observed: { 'ext-api-0': 5 } },
      ]),
    );
    expect(message).toBe(
      [
        'Pods on every node reach a Service at its external IP: 1 of 3 differ; the first, from svc-probe-b on node kind-worker: ' +
          'ext-api-0: expected 5, absent; error: ETIMEDOUT after 3000 ms: not expected, observed 5',
        '  question: to 172.18.0.3:19091 over tcp',
        '  = from svc-probe-a on node kind-control-plane: {"ext-api-0":5}',
        '  ! from svc-probe-b on node kind-worker: expected {"ext-api-0":5}, observed {"error: ETIMEDOUT after 3000 ms":5}',
        '  = from svc-probe-c on node kind-worker2: {"ext-api-0":5}',
      ].join('\n'),
    );
  });

  test('rows with a predicate say what they require', () => {
    const q: Question = {
      what: 'host-network clients reach a node port',
      client: 'host-probe-0 (host network)',
      target: 'node ports',
      protocol: 'tcp',
    };
    const message = failureOf(() =>
      expectRows(q, [
        { target: 'kind-worker 172.18.0.3:31000', ok: true, expected: 'only [web-api-a, web-api-b]', observed: { 'web-api-a': 4 } },
        {
          target: 'kind-worker2 172.18.0.4:31000',
          ok: false,
          expected: 'only [web-api-a, web-api-b]',
          observed: { 'web-api-b': 2, 'error: ECONNREFUSED': 2 },
        },
      ]),
    );
    expect(message?.split('\n')).toEqual([
      'host-network clients reach a node port: 1 of 2 differ; the first, to kind-worker2 172.18.0.4:31000: ' +
        'expected only [web-api-a, web-api-b], observed {"web-api-b":2,"error: ECONNREFUSED":2}',
      '  question: from host-probe-0 (host network) to node ports over tcp',
      '  = to kind-worker 172.18.0.3:31000: {"web-api-a":4}',
      '  ! to kind-worker2 172.18.0.4:31000: expected only [web-api-a, web-api-b], observed {"web-api-b":2,"error: ECONNREFUSED":2}',
    ]);
  });

  test('a list of objects: the fields that differ, and undefined shown as undefined', () => {
    const q: Question = {
      what: 'HTTP requests to a ClusterIP reach its ready backends',
      target: '10.96.0.20:80',
      protocol: 'http',
      unit: 'requests',
    };
    const want = { isBackend: true, differsFromVip: true, error: undefined };
    const got = { error: 'ETIMEDOUT after 3000 ms', isBackend: false, differsFromVip: true };
    expect(failureOf(() => expectSame(q, [want, want], [got, got]))?.split('\n')[0]).toBe(
      'HTTP requests to a ClusterIP reach its ready backends: 2 of 2 requests differ: isBackend: expected true, observed false; ' +
        'error: not expected, observed "ETIMEDOUT after 3000 ms"',
    );
    expect(show([undefined, NaN, -0, { a: undefined, b: null }])).toBe('[undefined,NaN,-0,{"b":null}]');
  });

  test('a predicate: what it requires and what was observed', () => {
    const q: Question = {
      what: 'an SOA record in the authority section of a negative answer',
      client: 'svc-fleet/svc-probe-a1',
      node: 'kind-worker',
      target: 'no-such-service.ns.svc.cluster.local A @10.96.0.10',
      protocol: 'dns',
    };
    expect(failureOf(() => expectThat(q, false, 'an SOA record', []))).toBe(
      [
        'an SOA record in the authority section of a negative answer: expected an SOA record, observed []',
        '  question: from svc-fleet/svc-probe-a1 on node kind-worker to no-such-service.ns.svc.cluster.local A @10.96.0.10 over dns',
        '  expected: an SOA record',
        '  observed: []',
      ].join('\n'),
    );
    expect(failureOf(() => expectThat(q, true, 'an SOA record', []))).toBeUndefined();
  });

  test('the first line is cut to a readable length; the full answers follow', () => {
    const q: Question = { what: 'the EndpointSlices list exactly the ready Pods', target: 'ns/EndpointSlice/mysql', protocol: 'api' };
    const long = 'x'.repeat(400);
    const message = failureOf(() => expectSame(q, 'a', long))!;
    expect(message.split('\n')[0]!.length).toBeLessThan(260);
    expect(message).toContain(`  observed: "${long}"`);
  });
});

/** Bare Jest assertions in a suite's text: expect(...) or expect.any(...) (also through a
 *  namespace: globals.expect(...)), and an import of expect from @jest/globals. Whole-line
 *  comments are prose, not code. */
function bareExpects(file: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (/^\s*(\/\/|\/\*|\*)/.test(line)) return;
    if (/(?<![\w$])expect\s*[.(]/.test(line)) found.push(`${file}:${i + 1}: ${line.trim()}`);
  });
  for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*['"]@jest\/globals['"]/g))
    if (/\bexpect\b/.test(m[1]!)) found.push(`${file}:${text.slice(0, m.index).split('\n').length}: imports expect from @jest/globals`);
  return found;
}

describe('every check in suites/*.test.ts fails with its question', () => {
  test('the scan finds every form of a bare Jest assertion', () => {
    const sample = [
      "import {\n  describe,\n  expect,\n} from '@jest/globals';",
      'expect(seen).toEqual([]);',
      '    if (want) expect (x).toBe(1);',
      'const n = expect.any(Number);',
      'globals.expect(x).toBe(1);',
      '// a comment may say we expect(nothing)',
      "await ctx.expectEverywhere('a', name, 'address', exp);",
      'expectSame(q, [], seen);',
      "const expected = 'x';",
    ].join('\n');
    expect(bareExpects('s.test.ts', sample)).toEqual([
      's.test.ts:5: expect(seen).toEqual([]);',
      's.test.ts:6: if (want) expect (x).toBe(1);',
      's.test.ts:7: const n = expect.any(Number);',
      's.test.ts:8: globals.expect(x).toBe(1);',
      's.test.ts:1: imports expect from @jest/globals',
    ]);
  });

  test('no bare Jest expect (and no expect imported) in a suite: the verdict vocabulary only', () => {
    const dir = path.join(ROOT, 'suites');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts'));
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap((f) => bareExpects(`suites/${f}`, fs.readFileSync(path.join(dir, f), 'utf8')))).toEqual([]);
  });
});
