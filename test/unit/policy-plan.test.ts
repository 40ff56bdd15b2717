import { parseBlueprint } from '../../src/core/blueprint/parse';
import { plannedPolicies } from '../../workflows/policies/plan';
import { parseSensorValue } from '../../src/clients/policies';
import { sensorValueOf } from '../../src/adapters/sensor-http';

const bp = (policies: string, extra = '') =>
  parseBlueprint(
    `id: shop
services:
  - id: web
    type: cluster
    initialSize: 2
    image: berth/busybox:1
    policies:
${policies}
  - id: db
    image: berth/busybox:1
${extra}`,
    'shop.yaml',
  );

describe('the policy workflows an app gets from its blueprint', () => {
  test('one autoscaler and one resilience workflow (restarter + replacer) per service', () => {
    const plans = plannedPolicies(
      bp(`      - type: autoscaler
        metric: requests
        metricUpperBound: 10
        maxPoolSize: 4
        pollPeriod: 2s
      - type: restarter
        failOnRecurringFailuresInThisDuration: 1m
      - type: replacer`),
    );
    expect(plans.map((p) => [p.workflowId, p.kind])).toEqual([
      ['berth-policy-shop-web-autoscaler', 'autoscaler'],
      ['berth-policy-shop-web-resilience', 'resilience'],
    ]);
    const [autoscaler, resilience] = plans;
    if (autoscaler.kind !== 'autoscaler' || !('input' in autoscaler) || !('input' in resilience))
      throw new Error('unexpected plan');
    expect(autoscaler.input).toMatchObject({ app: 'shop', service: 'web', intervalMs: 2000 });
    expect(autoscaler.input.config).toMatchObject({ metric: 'requests', maxPoolSize: 4, mode: 'bounds' });
    expect(resilience.input).toMatchObject({
      restarter: { windowMs: 60_000, maxFailures: 3 },
      replacer: { windowMs: 300_000 },
    });
  });

  test("a failureDetector (Brooklyn's enricher) gives the resilience workflow its delays, and alone starts none", () => {
    const restarter = `      - type: restarter`;
    const detector = `    brooklyn.enrichers:
      - type: org.apache.brooklyn.policy.ha.ServiceFailureDetector
        brooklyn.config:
          entityFailed.stabilizationDelay: 30s`;
    const [withDetector] = plannedPolicies(bp(`${restarter}\n${detector}`));
    const [without] = plannedPolicies(bp(restarter));
    if (!('input' in withDetector) || withDetector.kind !== 'resilience' || !('input' in without))
      throw new Error('unexpected plan');
    expect(withDetector.input.detector).toEqual({
      failedStabilizationMs: 30_000,
      recoveredStabilizationMs: 0,
    });
    expect(withDetector.reconfigure).toMatchObject({
      detector: { entityFailedStabilizationDelayMs: 30_000 },
    });
    expect(withDetector.fingerprint).not.toBe(without.fingerprint);
    // Unchanged for apps without one: an upgrade does not reconfigure their running policies.
    expect(without.fingerprint).toBe(
      '{"restarter":{"backoffInitialMs":100,"backoffMaxMs":60000,"maxFailures":3,"windowMs":300000}}',
    );
    expect(
      plannedPolicies(
        bp(`      - type: autoscaler\n        metric: cpu\n        metricUpperBound: 80\n${detector}`),
      ).map((p) => p.kind),
    ).toEqual(['autoscaler']);
  });

  test('the deploy option overrides pollPeriod, which overrides the 15 s default; the fingerprint follows', () => {
    const policy = `      - type: autoscaler
        metric: cpu
        metricUpperBound: 80`;
    const byDefault = plannedPolicies(bp(policy))[0];
    const overridden = plannedPolicies(bp(policy), 250)[0];
    const configured = plannedPolicies(bp(`${policy}\n        pollPeriod: 5s`))[0];
    const interval = (p: typeof byDefault) =>
      'input' in p && p.kind === 'autoscaler' ? p.input.intervalMs : -1;
    expect([interval(byDefault), interval(overridden), interval(configured)]).toEqual([15_000, 250, 5_000]);
    const fp = (p: typeof byDefault) => ('fingerprint' in p ? p.fingerprint : '');
    expect(fp(byDefault)).not.toBe(fp(overridden));
    expect(fp(byDefault)).toBe(fp(plannedPolicies(bp(policy))[0]));
  });

  test('services without policies get none', () => {
    expect(plannedPolicies(parseBlueprint('id: a\nservices:\n  - id: s\n    image: x\n', 'a.yaml'))).toEqual(
      [],
    );
  });
});

describe('sensor values', () => {
  test.each([
    ['42', 42],
    [' -1.5 ', -1.5],
  ])('%j is %d', (text, value) => expect(parseSensorValue(text)).toBe(value));

  test.each(['', 'abc', 'NaN', 'Infinity', '12abc', '1e3', '0x10'])(
    '%j is refused with the value named',
    (text) =>
      expect(() => parseSensorValue(text)).toThrow(
        `VALUE must be a plain decimal number like 42 or -1.5, got '${text}'`,
      ),
  );

  test('the HTTP body: a number as text or JSON {"value": n}', () => {
    expect(sensorValueOf('7')).toBe(7);
    expect(sensorValueOf('{"value": 8.5}')).toBe(8.5);
    const expected = 'must be a plain decimal number like 42 or -1.5';
    expect(() => sensorValueOf('{"value": "x"}')).toThrow(`"value" ${expected}, got "x"`);
    expect(() => sensorValueOf('{"value": 5e-324}')).toThrow(`"value" ${expected}, got 5e-324`);
    expect(() => sensorValueOf('{"nope": 1}')).toThrow(`"value" ${expected}, got nothing`);
    expect(() => sensorValueOf('{bad')).toThrow('body is not valid JSON');
  });
});
