import { describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { ROOT, sampleRule } from '../config/target.ts';
import { sampleNodes } from './probe.ts';

// The bundled 3-node cluster's nodes as the API lists them (kubectl get nodes -o json, trimmed):
// node-1..3 in zone-1..3.
const NODES = (JSON.parse(fs.readFileSync(path.join(ROOT, 'helpers/testdata/nodes-bundled-3.json'), 'utf8')) as { items: k8s.V1Node[] })
  .items;
const names = (ns: k8s.V1Node[]): string[] => ns.map((n) => n.metadata!.name!);
const inZone = (n: k8s.V1Node, zone?: string): k8s.V1Node => {
  const labels = { ...n.metadata!.labels };
  if (zone === undefined) delete labels['topology.kubernetes.io/zone'];
  else labels['topology.kubernetes.io/zone'] = zone;
  return { ...n, metadata: { ...n.metadata, labels } };
};

describe('the probe nodes: which nodes "from every node" means', () => {
  test('by default the first --max-probe-nodes by name', () => {
    expect(names(sampleNodes(NODES, undefined, 5))).toEqual(['node-1', 'node-2', 'node-3']);
    expect(names(sampleNodes(NODES, undefined, 2))).toEqual(['node-1', 'node-2']);
    expect(sampleRule(undefined, 5)).toBe('the first 5 schedulable node(s) by name (SVC_MAX_PROBE_NODES)');
  });

  test('--probe-nodes-per-zone K: the first K of each zone, nodes without a zone being one zone', () => {
    expect(names(sampleNodes(NODES, 1, 5))).toEqual(['node-1', 'node-2', 'node-3']);
    // node-1 and node-2 in one zone, node-3 in none.
    const two = [inZone(NODES[0]!, 'zone-a'), inZone(NODES[1]!, 'zone-a'), inZone(NODES[2]!)];
    expect(names(sampleNodes(two, 1, 5))).toEqual(['node-1', 'node-3']);
    expect(names(sampleNodes(two, 2, 1))).toEqual(['node-1', 'node-2', 'node-3']);
    expect(sampleRule(1, 5)).toBe('1 node(s) of each zone by name (--probe-nodes-per-zone)');
  });
});
