import { parse, yaml } from './helpers';
import type { Service } from '../../../src/core/blueprint/model';
import { registerStrategy, unregisterStrategy } from '../../../src/core/placement/registry';

const one = (...lines: string[]): Service => parse(yaml('id: app', 'services:', ...lines)).services[0];

describe('Brooklyn and native forms normalise to one model', () => {
  it('image: docker.image.name + tag, image:, and docker:IMAGE:TAG types', () => {
    const a = one(
      '  - id: a',
      '    brooklyn.config:',
      '      docker.image.name: redis',
      '      docker.image.tag: 3.10',
    );
    const b = one('  - id: a', '    image: redis:3.10');
    const c = one('  - id: a', '    type: docker:redis:3.10');
    for (const s of [a, b, c]) expect(s.source).toEqual({ kind: 'image', image: 'redis:3.10' });
    expect(c.declaredType).toBe('docker:redis:3.10');
  });

  it('Dockerfile as URL, path, or inline text', () => {
    expect(one('  - id: a', '    docker.dockerfile.url: https://example.org/Dockerfile').source).toEqual({
      kind: 'dockerfile',
      url: 'https://example.org/Dockerfile',
    });
    expect(one('  - id: a', '    dockerfile: build/Dockerfile').source).toEqual({
      kind: 'dockerfile',
      path: 'build/Dockerfile',
    });
    expect(
      one('  - id: a', '    dockerfile: |', '      FROM berth/busybox:1', '      CMD ["sh"]').source,
    ).toEqual({
      kind: 'dockerfile',
      inline: 'FROM berth/busybox:1\nCMD ["sh"]\n',
    });
  });

  it('entity definitions: VanillaSoftwareProcess with install/customize/launch', () => {
    const s = one(
      '  - id: a',
      '    type: brooklyn.entity.basic.VanillaSoftwareProcess',
      '    install.command: [mkdir /srv, touch /srv/x]',
      '    customize.command: echo hi',
      '    launch.command: exec httpd -f',
    );
    expect(s.source).toEqual({
      kind: 'entity',
      base: 'berth/busybox:1',
      install: ['mkdir /srv', 'touch /srv/x'],
      customize: ['echo hi'],
      launch: 'exec httpd -f',
    });
    expect(s.type).toBe('container');
  });

  it('DynamicCluster with a $brooklyn:entitySpec member spec', () => {
    const s = one(
      '  - id: web',
      '    type: brooklyn.entity.group.DynamicCluster',
      '    brooklyn.config:',
      '      initialSize: 4',
      '      dynamiccluster.memberspec:',
      '        $brooklyn:entitySpec:',
      '          type: docker:berth/busybox:1',
      '          brooklyn.config:',
      '            docker.directPorts: [8080]',
      '          brooklyn.policies:',
      '            - type: brooklyn.policy.ha.ServiceRestarter',
    );
    expect(s).toMatchObject({
      type: 'cluster',
      replicas: 4,
      declaredType: 'brooklyn.entity.group.DynamicCluster',
      source: { kind: 'image', image: 'berth/busybox:1' },
      ports: [{ container: 8080, host: 8080, protocol: 'tcp' }],
      policies: [{ type: 'restarter', config: {} }],
    });
  });

  it('env from env, docker.container.environment and shell.env', () => {
    const s = one(
      '  - id: a',
      '    image: x',
      '    env: {A: 1}',
      '    brooklyn.config:',
      '      shell.env: {B: true}',
      '      docker.container.environment: {C: c}',
    );
    expect(s.env).toEqual({ A: '1', B: 'true', C: 'c' });
  });

  it('ports: native strings, openPorts, directPorts, port bindings', () => {
    const s = one(
      '  - id: a',
      '    image: x',
      '    ports: ["8080", "8081:80", "0:53/udp"]',
      '    openPorts: [9000]',
      '    docker.directPorts: [9001]',
      '    docker.port.bindings: {9443: 443}',
    );
    expect(s.ports).toEqual([
      { container: 8080, protocol: 'tcp' },
      { container: 80, host: 8081, protocol: 'tcp' },
      { container: 53, host: 0, protocol: 'udp' },
      { container: 9000, host: 0, protocol: 'tcp' },
      { container: 9001, host: 9001, protocol: 'tcp' },
      { container: 443, host: 9443, protocol: 'tcp' },
    ]);
  });

  it('volumes, resources, health check, restart, DNS names', () => {
    const s = one(
      '  - id: a',
      '    image: x',
      '    volumes: [/data, "cache:/cache", "/etc/x:/x:ro"]',
      '    cpu: 500m',
      '    memory: 256MiB',
      '    healthCheck: {port: 8080, interval: 2s, timeout: 500ms, retries: 5}',
      '    restart: on-failure',
      '    dnsNames: [www.example.test]',
    );
    expect(s.volumes).toEqual([
      { target: '/data', readOnly: false },
      { source: 'cache', target: '/cache', readOnly: false },
      { source: '/etc/x', target: '/x', readOnly: true },
    ]);
    expect(s.resources).toEqual({ cpus: 0.5, memoryBytes: 256 * 1024 * 1024 });
    expect(s.healthCheck).toEqual({ port: 8080, intervalMs: 2000, timeoutMs: 500, retries: 5 });
    expect(s.restart).toBe('on-failure');
    expect(s.dnsNames).toEqual(['www.example.test']);
    expect(
      one('  - id: a', '    image: x', '    provisioning.properties: {minRam: 2g, minCores: 2}').resources,
    ).toEqual({
      cpus: 2,
      memoryBytes: 2 * 1024 ** 3,
    });
  });

  it('placement: native chain, Clocker objects under both prefixes, constraint keys', () => {
    const s = one(
      '  - id: a',
      '    image: x',
      '    placement:',
      '      - maxContainers: 4',
      '      - cpuUsage: {maxCpu: 0.8}',
      '      - depthFirst',
      '      - $brooklyn:object:',
      '          type: clocker.docker.location.strategy.affinity.AffinityStrategy',
      '          brooklyn.config:',
      '            affinity.rules: ["NOT EMPTY", "TYPE docker:redis:3", "APPLICATION"]',
      '      - $brooklyn:object: {type: brooklyn.location.docker.strategy.MaxContainersPlacementStrategy}',
      '    docker.constraint.labels: [ssd, "zone=a"]',
    );
    expect(s.placement).toEqual([
      { name: 'maxContainers', config: { maxContainers: 4 } },
      { name: 'cpuUsage', config: { maxCpu: 0.8 } },
      { name: 'depthFirst', config: {} },
      { name: 'affinity', config: {} },
      // Defaults are the strategy's own (8 here): the model keeps only what was written.
      { name: 'maxContainers', config: {} },
      { name: 'labelConstraint', config: { labels: ['ssd', 'zone=a'] } },
    ]);
    expect(s.affinity).toEqual([
      { negate: true, target: 'empty', hard: true, weight: 1 },
      { negate: false, target: 'image', value: 'redis:3', hard: true, weight: 1 },
      { negate: false, target: 'app', value: 'app', hard: true, weight: 1 },
    ]);
  });

  it('affinity: native rules and Clocker names resolved to service ids', () => {
    const bp = parse(
      yaml(
        'id: app',
        'services:',
        '  - {id: db, name: Database, image: x}',
        '  - id: web',
        '    image: x',
        '    affinity:',
        '      - {service: db, hard: false, weight: 5}',
        '      - NOT NAME Database',
        '      - {hostLabel: ssd, not: true}',
      ),
    );
    expect(bp.services[1].affinity).toEqual([
      { negate: false, target: 'service', value: 'db', hard: false, weight: 5 },
      { negate: true, target: 'service', value: 'db', hard: true, weight: 1 },
      { negate: true, target: 'hostLabel', value: 'ssd', hard: true, weight: 1 },
    ]);
  });

  it('app-level placement, native or in top-level brooklyn.config', () => {
    const a = parse(
      yaml('id: app', 'placement: [binPack, {maxPerHost: 3}]', 'services: [{id: a, image: x}]'),
    );
    expect(a.placement).toEqual([
      { name: 'binPack', config: {} },
      // Config keys in the model are the strategy's native ones (`max`; `maxPerHost` is an alias).
      { name: 'maxPerHost', config: { max: 3 } },
    ]);
    const b = parse(
      yaml(
        'id: app',
        'brooklyn.config:',
        '  docker.container.strategies:',
        '    - brooklyn.location.docker.strategy.BreadthFirstPlacementStrategy',
        'services: [{id: a, image: x}]',
      ),
    );
    expect(b.placement).toEqual([{ name: 'breadthFirst', config: {} }]);
  });

  it('placement reads every strategy the registry knows, in each entry form the docs show', () => {
    registerStrategy('rackSpread', () => ({}), { primaryKey: 'label' });
    try {
      const s = one(
        '  - id: a',
        '    image: x',
        '    placement:',
        '      - {name: cpuUsage, config: {maxCpu: 0.8}}',
        '      - lowestCpuUsage: {weight: 2}',
        '      - hostname: "h[12]"',
        '      - $brooklyn:object:',
        '          type: clocker.docker.location.strategy.HostnamePlacementStrategy',
        '          brooklyn.config: {docker.constraint.hostname: h3}',
        '      - {maxContainers: {docker.container.cluster.maxSize: 5}}',
        '      - rackSpread',
      );
      expect(s.placement).toEqual([
        { name: 'cpuUsage', config: { maxCpu: 0.8 } },
        { name: 'lowestCpuUsage', config: { weight: 2 } },
        { name: 'hostname', config: { hostname: 'h[12]' } },
        { name: 'hostname', config: { hostname: 'h3' } },
        { name: 'maxContainers', config: { maxContainers: 5 } },
        { name: 'rackSpread', config: {} },
      ]);
    } finally {
      unregisterStrategy('rackSpread');
    }
  });

  it('references: Brooklyn DSL, formatString (both forms), latches and links become native references and dependencies', () => {
    const bp = parse(
      yaml(
        'id: app',
        'services:',
        '  - id: web',
        '    image: x',
        '    launch.latch: $brooklyn:component("db").attributeWhenReady("service.isUp")',
        '    links: {cache: $brooklyn:component("redis")}',
        '    env:',
        '      A: $brooklyn:component("db").attributeWhenReady("host.address")',
        '      B: $brooklyn:formatString("jdbc:mysql://%s:%s/", component("db").attributeWhenReady("host.subnet.address"), "3306")',
        '      C: {$brooklyn:formatString: ["%s-%s", $brooklyn:attributeWhenReady("mapped.docker.port.80"), "${literal}"]}',
        '      D: plain $$HOME and $${escaped}',
        '  - {id: db, image: x}',
        '  - {id: redis, image: x}',
      ),
    );
    expect(bp.services.map((s) => s.id)).toEqual(['db', 'redis', 'web']);
    const web = bp.services[2];
    expect(web.env).toEqual({
      A: '${db.address}',
      B: 'jdbc:mysql://${db.address}:3306/',
      C: '${web.mapped.docker.port.80}-$${literal}',
      D: 'plain $$HOME and $${escaped}',
    });
    expect(web.dependsOn).toEqual(['db', 'redis']);
    expect(web.links).toEqual({ cache: 'redis' });
  });

  it('services come after their dependencies, otherwise in blueprint order', () => {
    const bp = parse(
      yaml(
        'id: app',
        'services:',
        '  - {id: a, image: x, dependsOn: [c]}',
        '  - {id: b, image: x}',
        '  - {id: c, image: x, env: {D: "${d.host}"}}',
        '  - {id: d, image: x}',
      ),
    );
    expect(bp.services.map((s) => s.id)).toEqual(['d', 'c', 'a', 'b']);
  });

  it('type is inferred: cluster when initialSize or memberSpec is given', () => {
    expect(one('  - {id: a, image: x, initialSize: 3}')).toMatchObject({ type: 'cluster', replicas: 3 });
    expect(one('  - {id: a, image: x}')).toMatchObject({ type: 'container', replicas: 1 });
  });

  it('locations: names only (location mappings may hold credentials)', () => {
    const bp = parse(
      yaml(
        'id: app',
        'location:',
        '  jclouds:softlayer:',
        '    identity: me',
        '    credential: s3cret',
        'services: [{id: a, image: x}]',
      ),
    );
    expect(bp.locations).toEqual(['jclouds:softlayer']);
    expect(JSON.stringify(bp)).not.toContain('s3cret');
  });
});
