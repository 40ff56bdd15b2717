import type { Blueprint, Service } from '../../../src/core/blueprint/model';
import { buildDemand, chainFor } from '../../../src/core/placement/demand';
import { DEFAULT_CHAIN, place } from '../../../src/core/placement/engine';
import { GiB, host, s } from './helpers';

function svc(id: string, over: Partial<Service> = {}): Service {
  return {
    id,
    name: id,
    type: 'cluster',
    replicas: 1,
    source: { kind: 'image', image: `${id}:1` },
    env: {},
    ports: [],
    volumes: [],
    resources: {},
    restart: 'no',
    dnsNames: [],
    placement: [],
    affinity: [],
    dependsOn: [],
    policies: [],
    position: { file: 'bp.yaml', line: 3, col: 5 },
    ...over,
  };
}

const bp = (services: Service[], placement: Blueprint['placement'] = []): Blueprint => ({
  app: 'shop',
  name: 'Shop',
  locations: [],
  placement,
  secrets: [],
  services,
});

test('one container per replica, named <service>-<n>, with requests and rules', () => {
  const rule = { negate: true, target: 'service' as const, hard: true, weight: 1 };
  const d = buildDemand(
    bp([
      svc('db'),
      svc('web', { replicas: 3, resources: { cpus: 0.5, memoryBytes: GiB }, affinity: [rule] }),
    ]),
  );
  expect(d.map((c) => c.instance)).toEqual(['db-1', 'web-1', 'web-2', 'web-3']);
  expect(d[1]).toMatchObject({
    app: 'shop',
    service: 'web',
    cpus: 0.5,
    memoryBytes: GiB,
    image: 'web:1',
    affinity: [rule],
  });
  expect(d[0]).toMatchObject({ cpus: 0, memoryBytes: 0 });
});

test('chain: the service’s, else the blueprint’s, else the default', () => {
  const own = [s('depthFirst')];
  const global = [s('spread')];
  const b = bp([svc('a', { placement: own }), svc('b')], global);
  expect(chainFor(b, 'a')).toBe(own);
  expect(chainFor(b, 'b')).toBe(global);
  expect(chainFor(bp([svc('c')]), 'c')).toBe(DEFAULT_CHAIN);
  const d = buildDemand(b);
  expect(d[0].strategies).toBe(own);
  expect(d[1].strategies).toBe(global);
});

test('end to end: blueprint demand onto hosts, anti-affinity spreads the cluster', () => {
  const rule = { negate: true, target: 'service' as const, hard: true, weight: 1 };
  const d = buildDemand(bp([svc('web', { replicas: 3, affinity: [rule] })]));
  const r = place({ hosts: [host('h2'), host('h1'), host('h3')], containers: d });
  expect(r.placements.map((p) => `${p.instance}@${p.host}`)).toEqual(['web-1@h1', 'web-2@h2', 'web-3@h3']);
});
