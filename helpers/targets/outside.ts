// A client outside the cluster: this machine (the runner), dialling the nodes' addresses
// as an external client or load balancer would. Only where it is known to reach them
// (requirement outside-client: the bundled cluster, the kind target, or when told).
import type { ConnectAttempt } from '../../probe/contract.ts';
import { tcpWho, udpWho } from '../../probe/probe.ts';
import { currentTarget } from '../config/target.ts';

/** `count` connections (tcp) or datagrams (udp) from this machine, one after another. The
 *  timeout is scaled like a probe's (--timeout-scale: the nodes answer later, not wrongly). */
export async function connectFromOutside(
  host: string,
  port: number,
  count: number,
  opts: { mode?: 'tcp' | 'udp'; timeoutMs?: number } = {},
): Promise<ConnectAttempt[]> {
  const out: ConnectAttempt[] = [];
  for (let i = 0; i < count; i++)
    out.push(await (opts.mode === 'udp' ? udpWho : tcpWho)(host, port, (opts.timeoutMs ?? 2000) * currentTarget().timeoutScale));
  return out;
}
