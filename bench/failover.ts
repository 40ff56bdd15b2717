/**
 * bench:failover — a host dies: how long until every replica runs again elsewhere, Berth against
 * Docker Swarm on the same hosts in the same run.
 *
 * On 4 netns hosts in one swarm (a `PoolRig`): a 6-replica Berth app (breadthFirst) and a 6-replica
 * Swarm service (`--endpoint-mode dnsrr`, on an attachable overlay, host-mode published port), the
 * same image and command (a server of its own container id). Phase 1 kills (kill -9 of the whole
 * engine) a host that neither leads the swarm nor holds the registry; it comes back, both settle;
 * then Swarm alone: Berth blind (see `swarmAlone`), another non-leader host killed, so Swarm's own
 * detection is timed too; phase 2 kills the swarm leader's host. Each side's time runs from the kill until it has 6
 * replicas on live hosts, each running and answering on its published port with its own id (the
 * same readiness, checked the same way by the bench, every 250 ms). Berth senses hosts every 1 s
 * and fails one after 3 missed readings; Swarm keeps its defaults (dispatcher heartbeat 5 s).
 *
 * Prints JSON: both times and their ratio (Berth / Swarm, below 1 = Berth faster, as in bench:swarm) per
 * phase, and Berth's non-leader time over Swarm's alone (`berthOverSwarmAlone`).
 */
import Docker from 'dockerode';
import { ID_PORT, ID_SERVER_COMMAND, appsHealth, httpGet } from './chaos-checks';
import { PoolRig, lastLines } from './pool-rig';

const log = (line: string) =>
  process.stderr.write(`[failover ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const REPLICAS = 6;
const APP = 'fo';
const SERVICE = 'cfail-sw';
const NETWORK = 'cfail-swnet';
/** Bound of one phase, from the kill. */
const PHASE_LIMIT_MS = 300_000;
/** Bound of the phase where Swarm detects a failure alone. */
const SWARM_ALONE_LIMIT_MS = 120_000;
const FAILURE_THRESHOLD = 3;

const BLUEPRINT = `id: ${APP}
services:
  - id: web
    image: berth/busybox:1
    replicas: ${REPLICAS}
    placement: [breadthFirst]
    command: ${JSON.stringify(ID_SERVER_COMMAND)}
    ports: ["0:${ID_PORT}"]
`;

interface SwarmTask {
  NodeID: string;
  DesiredState: string;
  Status: {
    State: string;
    ContainerStatus?: { ContainerID?: string };
    PortStatus?: { Ports?: { TargetPort: number; PublishedPort: number }[] };
  };
}

/** A manager of the swarm that answers (the leader moves; a dead host's engine does not answer). */
async function liveManager(rig: PoolRig, except?: string): Promise<Docker> {
  for (const h of await rig.hosts()) {
    if (h.id === except || h.status === 'failed') continue;
    const docker = rig.docker(h.id);
    const ok = await docker
      .listNodes()
      .then(() => true)
      .catch(() => false);
    if (ok) return docker;
  }
  throw new Error('no swarm manager answers');
}

/** The service's tasks meant to run, each with the host (its node's hostname) it is on. */
async function swarmTasks(manager: Docker): Promise<{ task: SwarmTask; host: string }[]> {
  const nodes = (await manager.listNodes()) as { ID: string; Description?: { Hostname?: string } }[];
  const hostOf = new Map(nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
  const tasks = (await manager.listTasks({
    filters: { service: [SERVICE], 'desired-state': ['running'] },
  })) as SwarmTask[];
  return tasks.map((task) => ({ task, host: hostOf.get(task.NodeID) ?? task.NodeID }));
}

/** Problems of the Swarm service: replicas short, on `dead`, not running, or not answering. */
async function swarmProblems(rig: PoolRig, dead?: string): Promise<string[]> {
  const tasks = await swarmTasks(await liveManager(rig, dead));
  const addresses = new Map((await rig.hosts()).map((h) => [h.id, h.address]));
  const problems: string[] = [];
  const answering = await Promise.all(
    tasks.map(async ({ task: t, host }) => {
      if (host === dead) return `task on ${dead}`;
      if (t.Status.State !== 'running') return `task ${t.Status.State} on ${host}`;
      const port = t.Status.PortStatus?.Ports?.find((p) => p.TargetPort === ID_PORT)?.PublishedPort;
      const address = addresses.get(host);
      if (!port || !address) return `task on ${host} without a published port`;
      const id = await httpGet(address, port, '/id', 1_000);
      return id && id === t.Status.ContainerStatus?.ContainerID ? undefined : `task on ${host} not answering`;
    }),
  );
  const ready = answering.filter((a) => a === undefined).length;
  if (ready !== REPLICAS) problems.push(`${ready} of ${REPLICAS} replicas ready`);
  problems.push(...answering.filter((a): a is string => a !== undefined));
  return problems;
}

/** Problems of the Berth app: the chaos bench's check, and nothing left on `dead`. */
async function berthProblems(rig: PoolRig, dead?: string): Promise<string[]> {
  const { problems, view } = await appsHealth(rig, [APP]);
  const stranded = (view.records.get(APP) ?? []).filter((i) => i.host === dead);
  return [...problems, ...stranded.map((i) => `${i.instance} on ${dead}`)];
}

/** Whether the swarm's node list shows `target` down, or no longer lists it. */
async function swarmDetection(rig: PoolRig, target: string): Promise<{ down: boolean; removed: boolean }> {
  const nodes = (await (await liveManager(rig, target)).listNodes()) as {
    Description?: { Hostname?: string };
    Spec: { Labels?: Record<string, string> };
    Status?: { State?: string };
  }[];
  const node = nodes.find(
    (n) => n.Description?.Hostname === target || Object.values(n.Spec.Labels ?? {}).includes(target),
  );
  return { down: node?.Status?.State === 'down', removed: !node };
}

async function createSwarmService(rig: PoolRig): Promise<void> {
  const manager = await liveManager(rig);
  await manager
    .createNetwork({ Name: NETWORK, Driver: 'overlay', Attachable: true, CheckDuplicate: true })
    .catch((err: Error) => {
      if (!/already exists/.test(err.message)) throw err;
    });
  await manager.createService({
    Name: SERVICE,
    TaskTemplate: {
      ContainerSpec: { Image: 'berth/busybox:1', Command: ['sh', '-c', ID_SERVER_COMMAND] },
      Networks: [{ Target: NETWORK }],
      RestartPolicy: { Condition: 'any', Delay: 0 },
      Placement: { MaxReplicas: 0 },
    },
    Mode: { Replicated: { Replicas: REPLICAS } },
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: ID_PORT, PublishMode: 'host' }] },
  } as never);
}

/** Waits (bounded) until both sides are whole on the live hosts. */
async function settle(rig: PoolRig, limitMs: number): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last: string[] = [];
  while (Date.now() < deadline) {
    try {
      const down = (await rig.hosts()).filter((h) => h.status !== 'ready').map((h) => `${h.id} ${h.status}`);
      last = [...down, ...(await berthProblems(rig)), ...(await swarmProblems(rig))];
      if (last.length === 0) return;
    } catch (err) {
      last = [(err as Error).message];
    }
    await sleep(1_000);
  }
  throw new Error(`not settled in ${limitMs / 1000} s: ${last.slice(0, 4).join('; ')}`);
}

interface PhaseResult {
  phase: 'non-leader' | 'leader';
  host: string;
  berthMs?: number;
  swarmMs?: number;
  /** Berth's time over Swarm's: below 1, Berth was faster. */
  berthOverSwarm?: number;
  /** From the kill until Berth's inventory lists the host failed: detection, apart from the heal. */
  berthDeclaredMs?: number;
  /** From the kill until the swarm lists the node down (Swarm's detection; after that it reschedules). */
  swarmDownMs?: number;
  /**
   * From the kill until the node is off the swarm's books: Berth's eviction removes a failed host's
   * node, which also makes Swarm reschedule its tasks. Before `swarmDownMs`, Swarm was helped.
   */
  nodeRemovedMs?: number;
  problems: string[];
}

async function phase(rig: PoolRig, kind: PhaseResult['phase']): Promise<PhaseResult> {
  await settle(rig, 240_000);
  const leader = await rig.leader();
  const registry = (await rig.hosts()).find((h) => h.registry)?.id;
  const hosts = [...rig.hostIndex.keys()];
  const target =
    kind === 'leader'
      ? leader
      : (hosts.find((h) => h !== leader && h !== registry) ?? hosts.find((h) => h !== leader));
  if (!target) throw new Error(`no ${kind} host to kill (leader ${leader})`);
  log(`${kind}: killing ${target} (leader ${leader}, registry ${registry})`);
  const t0 = Date.now();
  await rig.stopEngine(target);
  const result: PhaseResult = { phase: kind, host: target, problems: [] };
  const last: { berth: string[]; swarm: string[] } = { berth: [], swarm: [] };
  const open = () => Date.now() - t0 < PHASE_LIMIT_MS;
  // Each side has its own loop: the swarm's API waits out a leader election, and a probe of one
  // side that hangs must not delay what the other side's probe sees (it used to: Berth's times in
  // the leader phase were read only when the swarm's probes returned).
  const watchBerth = async () => {
    while (open() && result.berthMs === undefined) {
      await sleep(250);
      if (result.berthDeclaredMs === undefined) {
        const hosts = await rig.hosts().catch(() => []);
        if (hosts.some((h) => h.id === target && h.status === 'failed'))
          result.berthDeclaredMs = Date.now() - t0;
      }
      const b = await berthProblems(rig, target).catch((err: Error) => [err.message]);
      last.berth = b;
      if (b.length === 0) log(`  Berth whole again after ${(result.berthMs = Date.now() - t0)} ms`);
    }
  };
  // Until Swarm is whole, and (for the record of whether Berth's eviction came first) until the
  // node is off the swarm's books or Berth is whole.
  const watchSwarm = async () => {
    while (
      open() &&
      (result.swarmMs === undefined || (result.nodeRemovedMs === undefined && result.berthMs === undefined))
    ) {
      await sleep(250);
      if (result.swarmMs === undefined) {
        const s = await swarmProblems(rig, target).catch((err: Error) => [err.message]);
        last.swarm = s;
        if (s.length === 0) log(`  Swarm whole again after ${(result.swarmMs = Date.now() - t0)} ms`);
      }
      const seen = await swarmDetection(rig, target).catch(() => undefined);
      if (seen?.down) result.swarmDownMs ??= Date.now() - t0;
      if (seen?.removed) result.nodeRemovedMs ??= Date.now() - t0;
    }
  };
  await Promise.all([watchBerth(), watchSwarm()]);
  if (result.berthMs === undefined) result.problems.push(`Berth: ${last.berth.slice(0, 3).join('; ')}`);
  if (result.swarmMs === undefined) result.problems.push(`Swarm: ${last.swarm.slice(0, 3).join('; ')}`);
  if (result.berthMs && result.swarmMs)
    result.berthOverSwarm = Math.round((result.berthMs / result.swarmMs) * 100) / 100;
  log(`  ${target} comes back`);
  await rig.startEngine(target);
  return result;
}

/** Swarm's own time for a non-leader host, without Berth's eviction. */
interface AlonePhase {
  host: string;
  swarmMs?: number;
  swarmDownMs?: number;
  problems: string[];
}

/**
 * In the side-by-side phases Berth evicts the failed host's node from the swarm, which makes Swarm
 * reschedule too: Swarm's time there is partly Berth's. Here Berth is blind (a failure threshold it
 * never reaches) while a non-leader host is killed, so Swarm detects and reschedules by itself; then
 * Berth sees again and heals its app (the host was never declared failed: its containers just stopped).
 */
async function swarmAlone(rig: PoolRig, threshold: number): Promise<AlonePhase> {
  await settle(rig, 240_000);
  // The host killed before has no tasks now (Swarm does not move tasks back): spread them again.
  await rebalanceSwarm(rig);
  await settle(rig, 240_000);
  const leader = await rig.leader();
  const registry = (await rig.hosts()).find((h) => h.registry)?.id;
  const tasks = await swarmTasksByHost(rig);
  const target = [...rig.hostIndex.keys()]
    .filter((h) => h !== leader && h !== registry && (tasks.get(h) ?? 0) > 0)
    .sort((a, b) => (tasks.get(b) ?? 0) - (tasks.get(a) ?? 0))[0];
  if (!target) throw new Error(`no non-leader host with Swarm tasks to kill (leader ${leader})`);
  rig.cli(['hosts', 'configure', '--failure-threshold', '1000000']);
  log(`Swarm alone (Berth blind): killing ${target}, which runs ${tasks.get(target)} of its tasks`);
  const t0 = Date.now();
  await rig.stopEngine(target);
  const result: AlonePhase = { host: target, problems: [] };
  let last: string[] = [];
  while (Date.now() - t0 < SWARM_ALONE_LIMIT_MS && result.swarmMs === undefined) {
    await sleep(250);
    const problems = await swarmProblems(rig, target).catch((err: Error) => [err.message]);
    const now = Date.now() - t0;
    if (result.swarmDownMs === undefined) {
      const seen = await swarmDetection(rig, target).catch(() => undefined);
      if (seen?.down) result.swarmDownMs = now;
    }
    last = problems;
    if (problems.length === 0) log(`  Swarm alone whole again after ${(result.swarmMs = now)} ms`);
  }
  if (result.swarmMs === undefined) result.problems.push(`Swarm: ${last.slice(0, 3).join('; ')}`);
  log(`  ${target} comes back; Berth sees again and heals ${APP}`);
  await rig.startEngine(target);
  // Its first readings reset the misses it collected while Berth was blind.
  await sleep(3_000);
  rig.cli(['hosts', 'configure', '--failure-threshold', String(threshold)]);
  rig.cli(['heal', APP]);
  return result;
}

/** How many of the service's tasks each host runs (desired state running). */
async function swarmTasksByHost(rig: PoolRig): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const { host } of await swarmTasks(await liveManager(rig)))
    counts.set(host, (counts.get(host) ?? 0) + 1);
  return counts;
}

/** `docker service update --force`: Swarm's own way to spread a service's tasks over its nodes again. */
async function rebalanceSwarm(rig: PoolRig): Promise<void> {
  const service = (await liveManager(rig)).getService(SERVICE);
  const info = (await service.inspect()) as {
    Version: { Index: number };
    Spec: { TaskTemplate: { ForceUpdate?: number } };
  };
  const spec = info.Spec;
  spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
  await service.update({ version: info.Version.Index, ...spec });
  // Bounded wait for the rolling update to finish (until then the old spread still answers).
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    await sleep(1_000);
    const now = (await service.inspect().catch(() => undefined)) as
      { UpdateStatus?: { State?: string } } | undefined;
    if (now?.UpdateStatus?.State === 'completed') return;
  }
  throw new Error('the Swarm service did not finish spreading its tasks again within 180 s');
}

async function main(): Promise<void> {
  const rig = new PoolRig({
    prefix: 'cfail',
    lan: process.env.BERTH_FAILOVER_LAN ?? '10.213.252',
    hosts: 4,
    temporalPort: Number(process.env.BERTH_FAILOVER_PORT ?? 17833),
    senseEveryMs: 1_000,
    failureThreshold: FAILURE_THRESHOLD,
    log,
  });
  rig.closeOnSignals();
  const startedAt = Date.now();
  const phases: PhaseResult[] = [];
  let alone: AlonePhase | undefined;
  let error: string | undefined;
  try {
    await rig.start();
    log(`deploying ${APP} (Berth) and ${SERVICE} (Swarm), ${REPLICAS} replicas each`);
    await rig.deploy({ [APP]: BLUEPRINT });
    await createSwarmService(rig);
    phases.push(await phase(rig, 'non-leader'));
    alone = await swarmAlone(rig, FAILURE_THRESHOLD);
    phases.push(await phase(rig, 'leader'));
  } catch (err) {
    error = (err as Error).message;
    log(`failed: ${error}`);
    log(`worker log ends:\n${lastLines(rig.workerLog, 20)}`);
  } finally {
    const manager = await liveManager(rig).catch(() => undefined);
    await manager
      ?.getService(SERVICE)
      .remove()
      .catch(() => undefined);
    await rig.close();
  }
  const report = {
    benchmark: 'failover',
    replicas: REPLICAS,
    hosts: 4,
    berth: { senseEveryMs: 1_000, failureThreshold: FAILURE_THRESHOLD },
    swarm: { endpointMode: 'dnsrr', dispatcherHeartbeat: '5s (default)' },
    phases,
    ...(alone ? { swarmAlone: alone } : {}),
    ...(alone?.swarmMs && phases[0]?.berthMs
      ? { berthOverSwarmAlone: Math.round((phases[0].berthMs / alone.swarmMs) * 100) / 100 }
      : {}),
    ...(error ? { error } : {}),
    ok: !error && phases.length === 2 && phases.every((p) => p.problems.length === 0),
    minutes: Math.round((Date.now() - startedAt) / 6_000) / 10,
  };
  console.log(JSON.stringify(report, null, 2));
  process.exit(report.ok ? 0 : 1);
}

main().catch((err) => {
  console.error(`failover: ${(err as Error).message}`);
  process.exit(1);
});
