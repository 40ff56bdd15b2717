import {
  buildHash,
  builderContainerName,
  builtImageLabels,
  builtImageTag,
  commitChanges,
  describeEntityStep,
  dockerfileBaseImages,
  digestOf,
  pinnedRef,
  registryHost,
  shortDigest,
  entityBuildSteps,
  registryImageRef,
  registryOf,
  splitImageRef,
  isBuiltImageRef,
  withoutRegistry,
  type BuildDefinition,
} from '../../src/core/images';

const DOCKERFILE = 'FROM berth/busybox:1\nRUN echo hi > /hi\nCMD ["cat","/hi"]\n';
const entity: BuildDefinition = {
  kind: 'entity',
  base: 'berth/busybox:1',
  install: ['echo installed > /installed'],
  customize: [],
  launch: 'cat /installed; sleep 3600',
};

describe('built image tags', () => {
  it('are berth/<app>-<service>:<16 hex digits>, the same for the same definition', () => {
    const tag = builtImageTag('shop', 'web', { kind: 'dockerfile', dockerfile: DOCKERFILE });
    expect(tag).toMatch(/^berth\/shop-web:[0-9a-f]{16}$/);
    expect(builtImageTag('shop', 'web', { kind: 'dockerfile', dockerfile: DOCKERFILE })).toBe(tag);
  });

  it('are pinned: the hash of a definition never changes between releases', () => {
    // Changing how definitions are hashed orphans every built image: bump BUILD_FORMAT on purpose.
    expect(buildHash({ kind: 'dockerfile', dockerfile: DOCKERFILE })).toBe(
      buildHash({ kind: 'dockerfile', dockerfile: DOCKERFILE.replace(/\n/g, '\r\n') }),
    );
    expect(buildHash({ kind: 'dockerfile', dockerfile: DOCKERFILE })).toBe('9d5bc58ecd8ca8a0');
  });

  it('change with every part of the definition, and with the app and service in the name', () => {
    const base = buildHash(entity);
    const variants: BuildDefinition[] = [
      { ...entity, base: 'berth/busybox:2' } as BuildDefinition,
      { ...entity, install: ['echo other > /installed'] } as BuildDefinition,
      { ...entity, customize: ['true'] } as BuildDefinition,
      { ...entity, launch: 'sleep 1' } as BuildDefinition,
      { ...entity, launch: undefined } as BuildDefinition,
      // An install step moved to customize builds the same files but is another definition.
      { ...entity, install: [], customize: ['echo installed > /installed'] } as BuildDefinition,
      { kind: 'dockerfile', dockerfile: DOCKERFILE },
      { kind: 'dockerfile', dockerfile: DOCKERFILE, files: { 'a.txt': 'a' } },
    ];
    const hashes = new Set([base, ...variants.map(buildHash)]);
    expect(hashes.size).toBe(variants.length + 1);
    expect(builtImageTag('a', 'b', entity)).not.toBe(builtImageTag('a', 'c', entity));
    expect(builtImageTag('a', 'b', entity).split(':')[1]).toBe(builtImageTag('x', 'y', entity).split(':')[1]);
  });

  it('ignore key order and an empty file set', () => {
    const a = buildHash({ kind: 'dockerfile', dockerfile: DOCKERFILE, files: {} });
    expect(a).toBe(buildHash({ kind: 'dockerfile', dockerfile: DOCKERFILE }));
    expect(buildHash({ kind: 'dockerfile', dockerfile: 'x', files: { a: '1', b: '2' } })).toBe(
      buildHash({ kind: 'dockerfile', dockerfile: 'x', files: { b: '2', a: '1' } }),
    );
  });

  it('refuse names that are not DNS labels', () => {
    expect(() => builtImageTag('Shop', 'web', entity)).toThrow(/app name 'Shop'/);
    expect(() => builtImageTag('shop', 'we/b', entity)).toThrow(/service name/);
  });
});

describe('entity builds', () => {
  it('run install then customize commands in sh -c, numbered like Docker steps', () => {
    const steps = entityBuildSteps({ install: ['a', 'b'], customize: ['c'] });
    expect(steps.map((s) => [s.phase, s.index, s.total, s.argv])).toEqual([
      ['install', 1, 3, ['sh', '-c', 'a']],
      ['install', 2, 3, ['sh', '-c', 'b']],
      ['customize', 3, 3, ['sh', '-c', 'c']],
    ]);
    expect(describeEntityStep(steps[2])).toBe('Step 3/3 (customize) : c');
    expect(entityBuildSteps({ install: [], customize: [] })).toEqual([]);
  });

  it('name the builder after the tag', () => {
    expect(builderContainerName('berth/shop-web:0123456789abcdef')).toBe(
      'berth-build-berth-shop-web-0123456789abcdef',
    );
    expect(builderContainerName('berth/shop-web:0123456789abcdef')).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
  });

  it('label images', () => {
    expect(builtImageLabels('shop', 'web')).toEqual({
      'berth.managed': 'true',
      'berth.kind': 'image',
      'berth.app': 'shop',
      'berth.service': 'web',
    });
  });

  it('commit the launch command as CMD ["sh","-c",launch] with the labels', () => {
    expect(
      commitChanges({
        launch: 'cat /installed; sleep 3600',
        base: { cmd: ['sh'] },
        labels: { b: '2', a: '1' },
      }),
    ).toEqual(['CMD ["sh","-c","cat /installed; sleep 3600"]', 'LABEL "a"="1" "b"="2"']);
  });

  it("restore the base image's entrypoint and command without a launch command", () => {
    expect(commitChanges({ base: { entrypoint: ['/init'], cmd: ['serve'] }, labels: {} })).toEqual([
      'ENTRYPOINT ["/init"]',
      'CMD ["serve"]',
    ]);
    expect(commitChanges({ launch: '  ', base: { entrypoint: null, cmd: null }, labels: {} })).toEqual([
      'CMD ["sh"]',
    ]);
  });
});

describe('image references', () => {
  it('split the tag from the repository, not from a registry port', () => {
    expect(splitImageRef('127.0.0.1:5000/berth/a-b:1')).toEqual({
      repository: '127.0.0.1:5000/berth/a-b',
      tag: '1',
    });
    expect(splitImageRef('127.0.0.1:5000/berth/a-b')).toEqual({
      repository: '127.0.0.1:5000/berth/a-b',
      tag: 'latest',
    });
    expect(splitImageRef('busybox')).toEqual({ repository: 'busybox', tag: 'latest' });
    expect(splitImageRef('berth/a@sha256:abc')).toEqual({ repository: 'berth/a', tag: 'latest' });
  });

  it('know their registry', () => {
    expect(registryOf('127.0.0.1:5000/berth/a:1')).toBe('127.0.0.1:5000');
    expect(registryOf('localhost/a')).toBe('localhost');
    expect(registryOf('registry.example.com/a/b:1')).toBe('registry.example.com');
    expect(registryOf('berth/busybox:1')).toBeUndefined();
    expect(registryOf('busybox')).toBeUndefined();
  });

  it('name a local image in a registry', () => {
    expect(registryImageRef('127.0.0.1:5000', 'berth/a-b:0123')).toBe('127.0.0.1:5000/berth/a-b:0123');
    expect(registryImageRef('http://127.0.0.1:5000/', 'berth/a-b')).toBe('127.0.0.1:5000/berth/a-b:latest');
    expect(registryImageRef('127.0.0.1:6000', '127.0.0.1:5000/berth/a-b:1')).toBe(
      '127.0.0.1:6000/berth/a-b:1',
    );
  });
});

describe('Dockerfile base images', () => {
  it('are the FROM images, without scratch, stages or build arguments', () => {
    const dockerfile = [
      '# syntax=docker/dockerfile:1',
      'ARG BASE=berth/busybox:1',
      'FROM --platform=linux/amd64 berth/busybox:1 AS build',
      'RUN echo from berth/other:1',
      'from $BASE',
      'FROM build',
      'FROM scratch',
      'FROM \\',
      '  127.0.0.1:5000/berth/x:1 as final',
      'FROM berth/busybox:1',
    ].join('\n');
    expect(dockerfileBaseImages(dockerfile)).toEqual(['berth/busybox:1', '127.0.0.1:5000/berth/x:1']);
    expect(dockerfileBaseImages('')).toEqual([]);
  });
});

describe('pinned references', () => {
  it('a tag becomes its digest; the registry of short names is Docker Hub', () => {
    const d = 'sha256:44ca194736a3451481734d355495b41d3fdfae57a0d9317462f333771497610f';
    expect(pinnedRef('127.0.0.1:5000/team/api:2', d)).toBe(`127.0.0.1:5000/team/api@${d}`);
    expect(pinnedRef('postgres:16', d)).toBe(`postgres@${d}`);
    expect(pinnedRef('postgres', d)).toBe(`postgres@${d}`);
    expect(digestOf(`postgres@${d}`)).toBe(d);
    expect(digestOf('postgres:16')).toBeUndefined();
    expect(registryHost('postgres:16')).toBe('docker.io');
    expect(registryHost('registry.example.com/team/api:2.3')).toBe('registry.example.com');
    expect(shortDigest(d)).toBe('sha256:44ca194736a3');
  });
});

describe('built images under any registry', () => {
  it("a reference without its registry host; Berth's builds recognised with or without one", () => {
    expect(withoutRegistry('10.0.0.5:5000/berth/web-web:0123456789abcdef')).toBe(
      'berth/web-web:0123456789abcdef',
    );
    expect(withoutRegistry('berth/web-web:0123456789abcdef')).toBe('berth/web-web:0123456789abcdef');
    expect(withoutRegistry('postgres:16')).toBe('postgres:16');
    expect(isBuiltImageRef('10.0.0.5:5000/berth/web-web:0123456789abcdef')).toBe(true);
    expect(isBuiltImageRef('berth/shop-api:0123456789abcdef')).toBe(true);
    // The base image, a user's image, and a short or pinned tag are not builds.
    expect(isBuiltImageRef('berth/busybox:1')).toBe(false);
    expect(isBuiltImageRef('10.0.0.5:5000/team/web:1')).toBe(false);
    expect(isBuiltImageRef('berth/web-web:0123')).toBe(false);
    expect(isBuiltImageRef('berth/web-web@sha256:0123456789abcdef')).toBe(false);
  });
});
