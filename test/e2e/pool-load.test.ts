import * as fs from 'fs';
import * as path from 'path';
import { ID_SERVER_COMMAND } from '../../bench/chaos-checks';
import { PoolRig } from '../../bench/pool-rig';
import { destroyAllNetnsHosts } from '../../src/adapters/netns';
import type { HostView } from '../../workflows/api/inventory';

/**
 * Host load, sensed from the engine, on a pool of 3 netns hosts (a `PoolRig`: its own dev server
 * and worker): `berth hosts list` shows each host's CPU, memory and load; a host kept busy (CPU
 * loops in a container Berth did not make) reads busier than the others, and `berth plan` against
 * the live pool — no `--inventory` — keeps a lowestCpuUsage service off it and shows the instances
 * of a deployed app on the hosts they hold.
 */

const PREFIX = 'cload';
const LAN = '10.213.253';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PlanOutput {
  placements: { instance: string; host: string; kept?: boolean }[];
  unplaced: unknown[];
  source: string;
}

describe('host load on a pool of netns hosts, and berth plan against that pool', () => {
  let rig: PoolRig;

  beforeAll(async () => {
    rig = new PoolRig({
      prefix: PREFIX,
      lan: LAN,
      hosts: 3,
      temporalPort: 18033,
      senseEveryMs: 1_000,
      failureThreshold: 5,
      log: () => undefined,
    });
    await rig.start();
  }, 600_000);

  afterAll(async () => {
    await rig?.close();
    await destroyAllNetnsHosts(PREFIX); // by name, had close() not got that far
  }, 240_000);

  const hosts = () => JSON.parse(rig.cli(['hosts', 'list', '--json'])) as HostView[];
  const plan = (file: string) => JSON.parse(rig.cli(['plan', file, '--json'])) as PlanOutput;

  test('a busy host reads busy in berth hosts list and is avoided by lowestCpuUsage; a deployed app plans in place', async () => {
    const [idleA, busy, idleB] = [...rig.hostIndex.keys()].sort();
    // Three CPU loops on one host, in a container of no app (the host is removed after the test).
    const loops = await rig.docker(busy).createContainer({
      Image: 'berth/busybox:1',
      Cmd: ['sh', '-c', 'for i in 1 2 3; do (while :; do :; done) & done; wait'],
      Labels: { 'berth-test': PREFIX },
    });
    await loops.start();

    // Sensing reads it within a few rounds (bounded wait, no timing asserted).
    let listed: HostView[] = [];
    const busier = (hs: HostView[]) => {
      const cpu = (id: string) => hs.find((h) => h.id === id)?.sensors?.cpu ?? 0;
      return cpu(busy) > 0.02 && cpu(busy) > cpu(idleA) + 0.02 && cpu(busy) > cpu(idleB) + 0.02;
    };
    for (let i = 0; i < 120 && !busier(listed); i++) {
      await sleep(1_000);
      listed = hosts();
    }
    expect(busier(listed)).toBe(true);
    for (const h of listed) {
      expect(h.sensors?.memory).toBeGreaterThanOrEqual(0);
      expect(h.sensors?.load).toBeGreaterThanOrEqual(0);
    }
    // The table shows the same figures.
    const table = rig.cli(['hosts', 'list']);
    expect(table.split('\n')[0]).toMatch(/\bCPU\s+MEM\s+LOAD\b/);
    const busyRow = table.split('\n').find((l) => l.startsWith(`${busy} `))!;
    expect(busyRow).toMatch(/\d+%\s+\d+%\s+\d+\.\d\d\s*$/);

    // Planned against the live pool: two instances on the least busy host(s), never the busy one.
    const file = path.join(rig.home, 'calm.yaml');
    fs.writeFileSync(
      file,
      `id: calm\nservices:\n  - id: web\n    image: berth/busybox:1\n    replicas: 2\n    placement: [lowestCpuUsage]\n    command: ${JSON.stringify(ID_SERVER_COMMAND)}\n`,
    );
    const planned = plan(file);
    expect(planned.source).toBe('the live pool');
    expect(planned.unplaced).toEqual([]);
    const plannedHosts = planned.placements.map((p) => p.host);
    expect(plannedHosts).toHaveLength(2);
    expect(plannedHosts).not.toContain(busy);

    // Deployed, its instances keep their hosts in the next plan, which says so.
    await rig.deploy({ calm: fs.readFileSync(file, 'utf8') });
    const again = plan(file);
    expect(again.placements.every((p) => p.kept)).toBe(true);
    expect(again.placements.map((p) => p.host)).not.toContain(busy);
  }, 600_000);
});
