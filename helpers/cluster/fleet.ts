// One probe fleet per Jest worker: the first suite a worker runs makes a namespace with a
// probe Pod on each node (at most maxProbeNodes); the suites after it in that worker reuse
// it (a worker runs one suite at a time), so a run starts three fleets, not one per suite.
// Starting probe Pods was a third of a suite's time on a busy cluster. The fleet is
// labelled with the run id like every namespace of the run, and removed with them (global
// teardown, the CLI's cleanup). A suite whose checks depend on the probe's own namespace
// (the resolver's search path) starts probes of its own instead.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { currentTarget } from '../config/target.ts';
import { isNotFound, kube } from './kube.ts';
import { createNamespace } from './namespace.ts';
import { installProbeBundle, Probe, probeNodes, startProbes } from './probe.ts';
import { podsReady } from './workloads.ts';

interface FleetRecord {
  runId: string;
  ns: string;
  probes: { pod: string; node: string }[];
}

/** Where this worker keeps its fleet between suites (each suite file has fresh modules;
 *  the worker process, and so its pid, stays). */
const recordFile = (): string => path.join(os.tmpdir(), `svc-conformance-fleet-${currentTarget().runId}-${process.pid}.json`);

/** Fleet files of a run (for removal at its end). */
export function fleetFiles(runId: string): string[] {
  const prefix = `svc-conformance-fleet-${runId}-`;
  return fs
    .readdirSync(os.tmpdir())
    .filter((f) => f.startsWith(prefix))
    .map((f) => path.join(os.tmpdir(), f));
}

async function reuse(): Promise<FleetRecord | undefined> {
  let rec: FleetRecord;
  try {
    rec = JSON.parse(fs.readFileSync(recordFile(), 'utf8')) as FleetRecord;
  } catch {
    return undefined;
  }
  if (rec.runId !== currentTarget().runId) return undefined;
  // Still there, with a probe on every node probes run on (a node this run cordons for a
  // while, for the rescheduling check, included: probes tolerate that cordon); a node the
  // fleet lacks makes a new fleet.
  const ns = await kube()
    .core.readNamespace({ name: rec.ns })
    .catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
  if (!ns || ns.status?.phase !== 'Active') return undefined;
  const nodes = (await probeNodes()).map((n) => n.metadata?.name ?? '');
  if (!nodes.every((n) => rec.probes.some((p) => p.node === n))) return undefined;
  const probes = rec.probes.filter((p) => nodes.includes(p.node));
  await podsReady(
    rec.ns,
    probes.map((p) => p.pod),
    120_000,
  );
  return { ...rec, probes };
}

/** This worker's probes: its fleet, made on first use. `nodes` takes the first N. */
export async function fleetProbes(opts: { nodes?: number } = {}): Promise<Probe[]> {
  let rec = await reuse();
  if (!rec) {
    const ns = await createNamespace('probes');
    await installProbeBundle(ns);
    const probes = await startProbes(ns);
    rec = { runId: currentTarget().runId, ns, probes: probes.map((p) => ({ pod: p.pod, node: p.node })) };
    fs.writeFileSync(recordFile(), JSON.stringify(rec));
  }
  return rec.probes.slice(0, opts.nodes ?? rec.probes.length).map((p) => new Probe(rec.ns, p.pod, p.node));
}
