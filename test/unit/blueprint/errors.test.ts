import { parseBlueprint, BlueprintError } from '../../../src/core/blueprint/parse';
import { problems, yaml } from './helpers';

const head = ['id: shop', 'services:'];

describe('blueprint errors are located and explained', () => {
  it('unknown key with a did-you-mean', () => {
    expect(problems(yaml(...head, '  - id: web', '    imgae: berth/busybox:1'))).toEqual([
      "3:5: service 'web' has no image source: set 'image' (or 'docker.image.name'), 'dockerfile' (or 'docker.dockerfile.url'), install/launch commands, or type 'docker:IMAGE:TAG'",
      "4:5: unknown key 'imgae' in service 'web'; did you mean 'image'?",
    ]);
  });

  it('unknown keys inside brooklyn.config and at top level', () => {
    const text = yaml(
      'id: shop',
      'servces: []',
      'services:',
      '  - id: web',
      '    image: a',
      '    brooklyn.config:',
      '      docker.image.tgs: "1"',
    );
    expect(problems(text)).toEqual([
      "2:1: unknown key 'servces' at top level; did you mean 'services'?",
      "7:7: unknown key 'docker.image.tgs' in service 'web'; did you mean 'docker.image.tag'?",
    ]);
  });

  it('wrong type names the key and what was expected', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    type: cluster',
      '    image: a',
      '    initialSize: three',
      '    ports: 8080x',
    );
    expect(problems(text)).toEqual([
      "6:18: key 'initialSize' in service 'web' must be a whole number between 0 and 1000, got the string 'three'",
      "7:12: key 'ports' in service 'web' must be a list of ports, each a port like '8080', '8081:80' (host:container) or '0:80/udp' (random host port), got the string '8080x'",
    ]);
  });

  it('wrong memory unit and restart policy', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    memory: 12 parsecs',
      '    restart: sometimes',
    );
    expect(problems(text)).toEqual([
      "5:13: key 'memory' in service 'web' must be a memory size like '256MiB', '512m' or '2g' (a plain number means MiB), got the string '12 parsecs'",
      "6:14: key 'restart' in service 'web' must be one of no, on-failure, always, unless-stopped, got the string 'sometimes'",
    ]);
  });

  it('missing image source', () => {
    expect(problems(yaml(...head, '  - id: web', '    ports: ["80"]'))).toEqual([
      "3:5: service 'web' has no image source: set 'image' (or 'docker.image.name'), 'dockerfile' (or 'docker.dockerfile.url'), install/launch commands, or type 'docker:IMAGE:TAG'",
    ]);
  });

  it('two image sources conflict', () => {
    expect(problems(yaml(...head, '  - id: web', '    image: a', '    dockerfile: ./Dockerfile'))).toEqual([
      "5:5: key 'dockerfile' in service 'web' conflicts with an image; give one image source",
    ]);
  });

  it('the same field set by a native and a Brooklyn key', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    brooklyn.config:',
      '      docker.image.name: b',
    );
    expect(problems(text)).toEqual([
      "6:7: key 'docker.image.name' in service 'web' sets the same thing as 'image' (line 4)",
    ]);
  });

  it('bad CIDR, and a CIDR with host bits', () => {
    expect(
      problems(yaml('id: shop', 'network: 10.201.300.0/24', 'services:', '  - {id: web, image: a}')),
    ).toEqual([
      "2:10: key 'network' must be an IPv4 CIDR like '10.201.3.0/24' (prefix /8 to /29), got the string '10.201.300.0/24'",
    ]);
    expect(
      problems(yaml('id: shop', 'network:', '  cidr: 10.201.3.7/24', 'services:', '  - {id: web, image: a}')),
    ).toEqual(["3:9: network '10.201.3.7/24' has host bits set; did you mean '10.201.3.0/24'?"]);
  });

  it('unknown strategy, native and Clocker class', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    placement: [breadthFrist]',
      '    docker.container.strategies:',
      '      - $brooklyn:object:',
      '          type: brooklyn.location.docker.strategy.MaxContainerPlacementStrategy',
    );
    expect(problems(text)).toEqual([
      `5:17: unknown placement strategy 'breadthFrist'; did you mean 'breadthFirst'? (known: maxContainers, cpuUsage, memoryAvailable, cpuCoresAvailable, breadthFirst, depthFirst, lowestCpuUsage, binPack, spread, labelConstraint, hostname, affinity, distinctHosts, maxPerHost, volumeHost, provisioning)`,
      `8:17: unknown placement strategy 'brooklyn.location.docker.strategy.MaxContainerPlacementStrategy'; did you mean 'MaxContainersPlacementStrategy'? (known: maxContainers, cpuUsage, memoryAvailable, cpuCoresAvailable, breadthFirst, depthFirst, lowestCpuUsage, binPack, spread, labelConstraint, hostname, affinity, distinctHosts, maxPerHost, volumeHost, provisioning)`,
    ]);
  });

  it('bad strategy parameter', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    placement:',
      '      - cpuUsage: {maxCpu: 2}',
      '      - breadthFirst: {n: 1}',
    );
    expect(problems(text)).toEqual([
      "6:28: strategy 'cpuUsage' in service 'web': key 'maxCpu' must be a number between 0 and 1, got 2",
      "7:24: strategy 'breadthFirst' in service 'web': unknown key 'n' (known: weight)",
    ]);
  });

  it('dependency cycle, named', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    dependsOn: [api]',
      '  - id: api',
      '    image: a',
      '    env:',
      '      WEB: ${web.host}',
    );
    expect(problems(text)).toEqual(['9:12: dependency cycle: web -> api -> web']);
  });

  it('self dependency', () => {
    expect(problems(yaml(...head, '  - id: web', '    image: a', '    dependsOn: web'))).toEqual([
      "5:16: service 'web' cannot depend on itself ('dependsOn')",
    ]);
  });

  it('reference to an unknown service, native and Brooklyn forms', () => {
    const text = yaml(
      ...head,
      '  - id: db',
      '    image: a',
      '  - id: web',
      '    image: a',
      '    dependsOn: [cache]',
      '    env:',
      '      DB: http://${dbb.host}/',
      '      DB2: $brooklyn:component("dv").attributeWhenReady("host.address")',
    );
    expect(problems(text)).toEqual([
      "7:17: service 'web' refers to unknown service 'cache' in 'dependsOn'",
      "9:11: service 'web' refers to unknown service 'dbb' in env 'DB'; did you mean 'db'?",
      "10:12: service 'web' refers to unknown service 'dv' in env 'DB2'; did you mean 'db'?",
    ]);
  });

  it('invalid reference syntax', () => {
    expect(
      problems(yaml(...head, '  - id: web', '    image: a', '    env:', '      HOME_DIR: ${HOME}')),
    ).toEqual([
      "6:17: invalid value for env 'HOME_DIR' in service 'web': invalid reference '${HOME}': expected '${service.attribute}' or '${secret:NAME}' (write '$${' for a literal '${')",
    ]);
  });

  it('invalid YAML', () => {
    expect(problems(yaml('id: shop', 'services:', '  - id: web', '    image: [a', '  - id: db'))).toEqual([
      expect.stringMatching(
        /^5:3: invalid YAML: Flow sequence in block collection must be sufficiently indented/,
      ),
    ]);
    expect(problems(yaml('id: shop', 'id: again', 'services: []'))).toEqual([
      '2:1: invalid YAML: Map keys must be unique',
    ]);
  });

  it('unknown Brooklyn types are reported, not ignored', () => {
    const text = yaml(
      ...head,
      '  - id: redis',
      '    type: org.apache.brooklyn.entity.nosql.redis.RedisStore',
      '  - id: web',
      '    type: contaner',
      '    image: a',
      '  - type: docker-cloud',
    );
    expect(problems(text)).toEqual([
      "4:11: unsupported type 'org.apache.brooklyn.entity.nosql.redis.RedisStore' in service 'redis': Brooklyn software entities are not supported; use 'docker:IMAGE:TAG', or 'container' with an image, Dockerfile or install/launch commands",
      expect.stringMatching(
        /^6:11: unknown type 'contaner' in service 'web'; did you mean 'container'\? \(supported: /,
      ),
      "8:11: unsupported type 'docker-cloud' in service #3: Clocker infrastructure is not a service in Berth; add Docker hosts with 'berth hosts add'",
    ]);
  });

  it('unsupported policy type and a misplaced autoscaler', () => {
    const text = yaml(
      ...head,
      '  - id: web',
      '    image: a',
      '    brooklyn.policies:',
      '      - type: org.apache.brooklyn.policy.ha.ServiceRestarterr',
      '      - type: autoscaler',
      '        brooklyn.config: {metric: cpu, metricUpperBound: 0.8}',
    );
    expect(problems(text)).toEqual([
      "6:15: unsupported policy type 'org.apache.brooklyn.policy.ha.ServiceRestarterr' in service 'web'; did you mean 'org.apache.brooklyn.policy.ha.ServiceRestarter'? (supported: autoscaler, restarter, replacer, failureDetector and their Brooklyn class names)",
      "7:15: policy 'autoscaler' in service 'web' needs a cluster (type 'cluster' with 'initialSize')",
    ]);
  });

  it('duplicate service ids, missing ids, and affinity to an unknown service', () => {
    const text = yaml(
      ...head,
      '  - {id: web, image: a}',
      '  - {id: web, image: a}',
      '  - image: a',
      '  - id: db',
      '    image: a',
      '    affinity: ["NOT NAME wbe"]',
    );
    expect(problems(text)).toEqual([
      "4:6: service id 'web' is used twice (also at line 3)",
      "5:5: service #3 needs an 'id' (a DNS label naming the service)",
      "8:16: affinity rule in service 'db' refers to unknown service 'wbe'; did you mean 'web'?",
    ]);
  });

  it('secret values are refused without echoing them, and undeclared secrets are reported', () => {
    const text = yaml(
      'id: shop',
      'secrets:',
      '  db-pass: hunter2',
      'services:',
      '  - id: web',
      '    image: a',
      '    env: {A: $secret:db-pas}',
    );
    const found = problems(text);
    expect(found).toEqual([
      "3:12: secret 'db-pass' has a value in the blueprint; declare the name only and supply the value at deploy time",
      "7:14: secret 'db-pas' is not declared in 'secrets'; did you mean 'db-pass'?",
    ]);
    expect(found.join('\n')).not.toContain('hunter2');
  });

  it('reports every problem of a file, sorted by position', () => {
    const text = yaml(
      'id: Shop',
      'services:',
      '  - id: web',
      '    imgae: a',
      '    cpu: lots',
      '  - id: db',
      '    image: a',
      '    replicas: 2x',
    );
    expect(problems(text).map((p) => p.split(':').slice(0, 2).join(':'))).toEqual([
      '1:5',
      '3:5',
      '4:5',
      '5:10',
      '8:15',
    ]);
  });

  it('parseBlueprint throws BlueprintError with FILE:LINE:COL problems', () => {
    try {
      parseBlueprint(yaml(...head, '  - id: web', '    imgae: a'), 'shop.yaml');
      throw new Error('expected an error');
    } catch (err) {
      expect(err).toBeInstanceOf(BlueprintError);
      const e = err as BlueprintError;
      expect(e.problems).toContain(
        "shop.yaml:4:5: unknown key 'imgae' in service 'web'; did you mean 'image'?",
      );
      expect(e.blueprintProblems[1]).toMatchObject({ file: 'shop.yaml', line: 4, col: 5, key: 'imgae' });
    }
  });
});
