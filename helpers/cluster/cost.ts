// What a run costs the cluster, counted where the calls are made: API requests (each call
// of an API client kube() hands out), exec sessions (probe sessions and one-off commands) and
// Pods created (Pods applied, and the replicas of Deployments and StatefulSets). Each
// process (the CLI, every suite in a Jest worker) writes its counts to
// <evidence dir>/cost/<run id>.<pid>.<instance>.json, overwritten as they grow; the reports sum them
// (helpers/results/reports.ts readCost).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { currentTarget } from '../config/target.ts';

export interface Cost {
  apiCalls: number;
  execSessions: number;
  podsCreated: number;
}

const counts: Cost = { apiCalls: 0, execSessions: 0, podsCreated: 0 };
// Jest gives every suite file its own copy of this module (a fresh module registry), so a
// worker holds several sets of counts: each writes its own file.
const instance = `${process.pid}.${Math.random().toString(36).slice(2, 8)}`;

export function countCost(what: keyof Cost, n = 1): void {
  counts[what] += n;
}

/** The API client with every method call counted as one request. */
export function counted<T extends object>(api: T): T {
  return new Proxy(api, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]): unknown => {
        counts.apiCalls++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Writes this process's counts so far (after each suite, and at the CLI's end). */
export function writeCost(): void {
  const t = currentTarget();
  const dir = path.join(t.evidenceDir, 'cost');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${t.runId}.${instance}.json`), `${JSON.stringify(counts)}\n`);
}
