// The command map's schemas against real probe output: answers captured from the bundled
// cluster (helpers/testdata/dns-answers.captured.json, see its README) pass; the same
// output with a field of the wrong kind fails, naming the path.
import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS, decodeArg, encodeArg } from './contract.ts';
import { check } from './schema.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const captured = JSON.parse(
  fs.readFileSync(path.join(here, '..', 'helpers', 'testdata', 'dns-answers.captured.json'), 'utf8'),
) as unknown[];

describe('probe command map', () => {
  test('captured dns output matches the dns result schema', () => {
    expect(COMMANDS.dns.result(captured, '$')).toEqual([]);
  });

  test('a wrong field is reported by path, and check() throws with it', () => {
    const broken = JSON.parse(JSON.stringify(captured)) as { answers: { ttl: unknown }[] }[];
    broken[0]!.answers[0]!.ttl = '30';
    expect(COMMANDS.dns.result(broken, '$')).toEqual(['$[0].answers[0].ttl: expected a number, got "30"']);
    expect(() => check(COMMANDS.dns.result, broken, 'the output of probe dns')).toThrow(
      /the output of probe dns does not match its contract:\n {2}\$\[0\]\.answers\[0\]\.ttl/,
    );
  });

  test('the argument codec round-trips, and arguments are checked', () => {
    const req = { host: '10.96.0.10', port: 53, count: 2, mode: 'tcp' as const };
    expect(decodeArg(encodeArg(req))).toEqual(req);
    expect(COMMANDS.connect.args(decodeArg(encodeArg({ ...req, mode: 'sctp' })), '$')).toEqual([
      '$.mode: expected one of tcp, udp, http, http-keepalive, http2, grpc, got "sctp"',
    ]);
    expect(COMMANDS.connect.args(decodeArg(encodeArg({ ...req, mode: 'udp', sourcePort: 40000 })), '$')).toEqual([]);
    expect(COMMANDS['set-ready'].args(decodeArg('false'), '$')).toEqual([]);
  });
});
