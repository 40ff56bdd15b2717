import { desiredInstances, reconcile, type LiveInstance } from '../../src/core/reconcile';
import { canonicalJson, stableHash } from '../../src/core/hash';

const live = (instance: string, state = 'running', configHash = 'h1'): LiveInstance => ({
  service: instance.replace(/-\d+$/, ''),
  instance,
  id: `id-${instance}`,
  state,
  configHash,
});

describe('reconcile: desired instances vs what runs', () => {
  const desired = desiredInstances([
    { id: 'db', replicas: 1, configHash: 'h1' },
    { id: 'web', replicas: 3, configHash: 'h1' },
  ]);

  test('desired instances are <service>-1..n in service order', () => {
    expect(desired.map((d) => d.instance)).toEqual(['db-1', 'web-1', 'web-2', 'web-3']);
  });

  test('creates the missing, starts the stopped, keeps the running, recreates a changed configuration', () => {
    const plan = reconcile(desired, [live('db-1'), live('web-1', 'exited'), live('web-2', 'running', 'old')]);
    expect(plan.keep.map((l) => l.instance)).toEqual(['db-1']);
    expect(plan.start.map((l) => l.instance)).toEqual(['web-1']);
    expect(plan.recreate.map((r) => r.live.instance)).toEqual(['web-2']);
    expect(plan.create.map((d) => d.instance)).toEqual(['web-3']);
    expect(plan.remove).toEqual([]);
  });

  test('removes extras, newest first (a scale-down keeps the lowest indexes)', () => {
    const plan = reconcile(desired.slice(0, 2), [
      live('db-1'),
      live('web-1'),
      live('web-2'),
      live('web-10'),
      live('web-3'),
    ]);
    expect(plan.remove.map((l) => l.instance)).toEqual(['web-10', 'web-3', 'web-2']);
  });

  test('two containers of one instance (an interrupted start-first replacement): the current one stays', () => {
    const old = { ...live('web-1', 'running', 'old'), id: 'id-old' };
    const next = { ...live('web-1', 'running', 'h1'), id: 'id-next' };
    for (const order of [
      [old, next],
      [next, old],
    ]) {
      const plan = reconcile(desired, [live('db-1'), ...order, live('web-2'), live('web-3')]);
      expect(plan.keep.map((l) => l.id)).toEqual(['id-db-1', 'id-next', 'id-web-2', 'id-web-3']);
      expect(plan.remove.map((l) => l.id)).toEqual(['id-old']);
      expect(plan.recreate).toEqual([]);
    }
    // Neither up to date: the running one is replaced, the stopped one goes.
    const stopped = { ...live('web-1', 'exited', 'old'), id: 'id-stopped' };
    const plan = reconcile(desired, [live('db-1'), stopped, old, live('web-2'), live('web-3')]);
    expect(plan.recreate.map((r) => r.live.id)).toEqual(['id-old']);
    expect(plan.remove.map((l) => l.id)).toEqual(['id-stopped']);
  });

  test('the same inputs in another order give the same plan', () => {
    const a = reconcile(desired, [live('web-2'), live('db-1')]);
    const b = reconcile(desired, [live('db-1'), live('web-2')]);
    expect(a).toEqual(b);
  });
});

describe('stableHash / canonicalJson', () => {
  test('key order does not matter, values do', () => {
    expect(stableHash(canonicalJson({ a: 1, b: [1, { c: 2, d: 3 }] }))).toBe(
      stableHash(canonicalJson({ b: [1, { d: 3, c: 2 }], a: 1 })),
    );
    expect(stableHash(canonicalJson({ a: 1 }))).not.toBe(stableHash(canonicalJson({ a: 2 })));
    expect(stableHash('x')).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('the resolved hash: what a container was actually given', () => {
  const want = (resolvedHash?: string, recreateUnrecorded = false) =>
    desiredInstances([{ id: 'web', replicas: 1, configHash: 'c1', resolvedHash, recreateUnrecorded }]);
  const live = (resolvedHash?: string) => [
    { service: 'web', instance: 'web-1', id: 'a', state: 'running', configHash: 'c1', resolvedHash },
  ];

  it('a changed resolved value (a rotated secret, a moved address, a new digest) recreates', () => {
    expect(reconcile(want('r2'), live('r1')).recreate.map((r) => r.live.id)).toEqual(['a']);
    expect(reconcile(want('r1'), live('r1')).keep.map((l) => l.id)).toEqual(['a']);
  });

  it('a container from before resolved hashes were recorded is kept: an upgrade recreates nothing', () => {
    expect(reconcile(want('r1'), live(undefined)).keep.map((l) => l.id)).toEqual(['a']);
    // ...unless it lacks what only new containers get (mounts of the volumes it declares).
    expect(reconcile(want('r1', true), live(undefined)).recreate.map((r) => r.live.id)).toEqual(['a']);
  });
});
