import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBlueprint, parseBlueprint } from '../../../src/core/blueprint/parse';

const ROOT = join(__dirname, '../../..');
const BLUEPRINTS = join(ROOT, 'blueprints');
// Clocker's own example blueprints (copied from shared/clocker-blueprints, see SOURCES.txt there).
const CLOCKER = join(ROOT, 'test', 'fixtures', 'clocker');
const files = readdirSync(BLUEPRINTS).filter((f) => f.endsWith('.yaml'));

describe('example blueprints', () => {
  it('include the five required ones', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'hello.yaml',
        'web-db.yaml',
        'cluster.yaml',
        'dockerfile.yaml',
        'policies.yaml',
      ]),
    );
  });

  it.each(files)('%s parses', (file) => {
    const path = join(BLUEPRINTS, file);
    const r = checkBlueprint(readFileSync(path, 'utf8'), path);
    expect(r.problems).toEqual([]);
    for (const s of r.blueprint!.services) {
      const image =
        s.source.kind === 'image'
          ? s.source.image
          : s.source.kind === 'entity'
            ? s.source.base
            : s.source.inline;
      expect(image).toContain('berth/busybox:1');
    }
  });

  it('hello.yaml is one busybox container of app hello', () => {
    const bp = parseBlueprint(readFileSync(join(BLUEPRINTS, 'hello.yaml'), 'utf8'), 'hello.yaml');
    expect(bp.app).toBe('hello');
    expect(bp.services).toHaveLength(1);
    expect(bp.services[0].source).toEqual({ kind: 'image', image: 'berth/busybox:1' });
  });

  it('web-db.yaml orders the database first and normalises its references', () => {
    const bp = parseBlueprint(readFileSync(join(BLUEPRINTS, 'web-db.yaml'), 'utf8'), 'web-db.yaml');
    expect(bp.services.map((s) => s.id)).toEqual(['db', 'web']);
    expect(bp.services[1].env).toEqual({ DB_HOST: '${db.host}', DB_URL: 'postgres://${db.host}:5432/app' });
    expect(bp.services[1].dependsOn).toEqual(['db']);
    expect(bp.network).toEqual({ cidr: '10.201.3.0/24' });
  });

  it('guestbook.yaml is a stateful store with a named volume and a grace period, and a web tier that references it', () => {
    const bp = parseBlueprint(readFileSync(join(BLUEPRINTS, 'guestbook.yaml'), 'utf8'), 'guestbook.yaml');
    expect(bp.services.map((s) => s.id)).toEqual(['db', 'web']);
    const [db, web] = bp.services;
    expect(db.volumes).toEqual([{ source: 'data', target: '/data', readOnly: false }]);
    expect(db).toMatchObject({ stopSignal: 'SIGTERM', stopGracePeriodMs: 20_000 });
    expect(db.ports).toEqual([{ container: 7000, protocol: 'tcp' }]); // not forwarded
    expect(db.command?.join(' ')).toMatch(/trap '[^']*>> \/data\/journal[^']*' TERM/);
    expect(web.env).toEqual({ DB_URL: 'http://${db.host}:${db.port}' });
    expect(web.dependsOn).toEqual(['db']);
    expect(web.ports).toEqual([{ container: 8080, protocol: 'tcp', host: 0 }]);
    // Both stop on TERM at once: no PID 1 without a handler waiting out its grace period.
    for (const s of bp.services) expect(s.command?.join(' ')).toContain('TERM &&');
  });

  it('cluster.yaml maps Clocker strategies to native names', () => {
    const bp = parseBlueprint(readFileSync(join(BLUEPRINTS, 'cluster.yaml'), 'utf8'), 'cluster.yaml');
    const web = bp.services[0];
    expect(web).toMatchObject({
      type: 'cluster',
      replicas: 3,
      source: { kind: 'image', image: 'berth/busybox:1' },
    });
    expect(web.placement).toEqual([
      { name: 'maxContainers', config: { maxContainers: 4 } },
      { name: 'cpuUsage', config: { maxCpu: 0.9 } },
      { name: 'breadthFirst', config: {} },
    ]);
  });

  it('policies.yaml has an autoscaler, a restarter, a replacer and a failure detector', () => {
    const bp = parseBlueprint(readFileSync(join(BLUEPRINTS, 'policies.yaml'), 'utf8'), 'policies.yaml');
    expect(bp.services[0].policies.map((p) => p.type)).toEqual([
      'autoscaler',
      'restarter',
      'replacer',
      'failureDetector',
    ]);
    expect(bp.services[0].policies[0].config).toMatchObject({
      minPoolSize: 1,
      maxPoolSize: 5,
      resizeDownStabilizationDelayMs: 300_000,
    });
  });
});

describe("Clocker's example blueprints", () => {
  const check = (name: string) => {
    const path = join(CLOCKER, name);
    return checkBlueprint(readFileSync(path, 'utf8'), name);
  };
  const lines = (name: string): string[] =>
    check(name).problems.map((p) => `${p.line}:${p.col}: ${p.message}`);

  it('04 identicon parses fully: docker: types, openPorts, links, enricher', () => {
    const r = check('04-clocker-1.2.0-identicon-application.yaml');
    expect(r.problems).toEqual([]);
    const bp = r.blueprint!;
    expect(bp.services.map((s) => [s.id, s.source])).toEqual([
      ['redis', { kind: 'image', image: 'redis:3' }],
      ['dnmonster', { kind: 'image', image: 'clockercentral/dnmonster:1.0' }],
      ['identidock', { kind: 'image', image: 'clockercentral/identidock:1.9' }],
    ]);
    const id = bp.services[2];
    expect(id.links).toEqual({ redis: 'redis', dnmonster: 'dnmonster' });
    expect(id.dependsOn).toEqual(['redis', 'dnmonster']);
    expect(id.ports).toEqual([
      { container: 9090, host: 0, protocol: 'tcp' },
      { container: 9091, host: 0, protocol: 'tcp' },
    ]);
    expect(id.enrichers).toEqual([
      {
        type: 'transformer',
        config: {
          uniqueTag: 'external-url-generator',
          sourceSensor: 'mapped.docker.port.9090',
          targetSensor: 'main.uri',
          targetValue: 'http://${identidock.mapped.docker.port.9090}/',
        },
      },
    ]);
  });

  it('01 and 06 (infrastructure catalog items) are reported as unsupported, with their line', () => {
    expect(lines('01-clocker-1.2.0-docker-cloud-calico.yaml')).toEqual([
      "20:9: unsupported type 'docker-cloud-calico' in service #1: Clocker infrastructure is not a service in Berth; add Docker hosts with 'berth hosts add'",
    ]);
    expect(lines('06-clocker-2.x-swarm.yaml')).toEqual([
      "23:11: unsupported type 'docker-swarm' in service 'swarm': Clocker infrastructure is not a service in Berth; add Docker hosts with 'berth hosts add'",
    ]);
  });

  it('02, 03 and 05 (Brooklyn software entities) are reported as unsupported types, one line each', () => {
    const soft =
      ": Brooklyn software entities are not supported; use 'docker:IMAGE:TAG', or 'container' with an image, Dockerfile or install/launch commands";
    expect(lines('02-clocker-1.2.0-redis-label-placement.yaml')).toEqual([
      `25:9: unsupported type 'org.apache.brooklyn.entity.nosql.redis.RedisStore' in service 'redis'${soft}`,
    ]);
    const net = ": every Berth app gets its own network; set top-level 'network: CIDR' instead";
    expect(lines('03-clocker-1.2.0-riak-webapp-cluster-weave.yaml')).toEqual([
      `22:9: unsupported type 'clocker.docker.networking.entity.VirtualNetwork' in service #1${net}`,
      `24:9: unsupported type 'clocker.docker.networking.entity.VirtualNetwork' in service #2${net}`,
      `27:9: unsupported type 'org.apache.brooklyn.entity.nosql.riak.RiakCluster' in service 'cluster'${soft}`,
      `36:9: unsupported type 'org.apache.brooklyn.entity.webapp.ControlledDynamicWebAppCluster' in service #4${soft}`,
    ]);
    expect(lines('05-clocker-1.2.0-tomcat-cluster-with-mysql.yaml')).toEqual([
      `22:9: unsupported type 'org.apache.brooklyn.entity.webapp.ControlledDynamicWebAppCluster' in service 'tomcat-cluster'${soft}`,
      `64:9: unsupported type 'org.apache.brooklyn.entity.database.mysql.MySqlNode' in service 'mysql'${soft}`,
    ]);
  });

  it("02's label placement strategy maps to labelConstraint once the service is a container", () => {
    const text = readFileSync(join(CLOCKER, '02-clocker-1.2.0-redis-label-placement.yaml'), 'utf8')
      .replace('org.apache.brooklyn.entity.nosql.redis.RedisStore', 'docker:redis:3.0.0')
      .replace('    install.version: 3.0.0\n', '');
    const bp = parseBlueprint(text, '02.yaml');
    expect(bp.locations).toEqual(['my-docker-cloud']);
    expect(bp.services[0].placement).toEqual([{ name: 'labelConstraint', config: { labels: ['ssd'] } }]);
  });
});
