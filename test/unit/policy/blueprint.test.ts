import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBlueprint, parseBlueprint } from '../../../src/core/blueprint/parse';
import { autoscalerConfig, recoveryConfig } from '../../../src/core/policy';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** A cluster with one policy whose brooklyn.config holds `config` (flow-mapping text). */
const withAutoscaler = (config: string, type = 'autoscaler'): string =>
  yaml(
    'id: shop',
    'services:',
    '  - id: web',
    '    type: cluster',
    '    initialSize: 2',
    '    image: berth/busybox:1',
    '    policies:',
    `      - type: ${type}`,
    `        brooklyn.config: {${config}}`,
  );

const problems = (text: string): string[] =>
  checkBlueprint(text, 'bp.yaml').problems.map((p) => `${p.line}:${p.col}: ${p.message}`);

describe('the blueprint parser and the policy configs agree', () => {
  it('policies.yaml yields valid autoscaler and restarter configs', () => {
    const file = join(__dirname, '../../../blueprints/policies.yaml');
    const bp = parseBlueprint(readFileSync(file, 'utf8'), file);
    const [autoscaler, restarter, replacer] = bp.services[0].policies;
    expect(autoscalerConfig(autoscaler.config)).toMatchObject({
      metric: 'cpu',
      mode: 'bounds',
      metricLowerBound: 20,
      metricUpperBound: 80,
      minPoolSize: 1,
      maxPoolSize: 5,
      resizeUpStabilizationDelayMs: 30_000,
      resizeDownStabilizationDelayMs: 300_000,
    });
    expect(recoveryConfig(restarter.config).windowMs).toBe(300_000);
    expect(recoveryConfig(replacer.config)).toEqual(recoveryConfig({}));
  });

  it('accepts target tracking and the Brooklyn iteration keys, plain and autoscaler.-prefixed', () => {
    const text = withAutoscaler(
      'metric: cpu, target: 50, tolerance: 0.05, resizeUpIterationIncrement: 2, resizeUpIterationMax: 4, ' +
        'autoscaler.resizeDownIterationIncrement: 1, autoscaler.resizeDownIterationMax: 3',
    );
    expect(problems(text)).toEqual([]);
    const spec = parseBlueprint(text, 'bp.yaml').services[0].policies[0];
    expect(spec.config).toEqual({
      metric: 'cpu',
      target: 50,
      tolerance: 0.05,
      resizeUpIterationIncrement: 2,
      resizeUpIterationMax: 4,
      resizeDownIterationIncrement: 1,
      resizeDownIterationMax: 3,
    });
    expect(autoscalerConfig(spec.config)).toMatchObject({
      mode: 'target',
      target: 50,
      tolerance: 0.05,
      resizeUpIncrement: 2,
      resizeUpMax: 4,
      resizeDownIncrement: 1,
      resizeDownMax: 3,
      resizeDownStabilizationDelayMs: 300_000,
    });
  });

  it("needs 'metricUpperBound' or 'target'", () => {
    expect(problems(withAutoscaler('metric: cpu, metricLowerBound: 10'))).toEqual([
      "8:9: policy 'autoscaler' in service 'web' needs 'metricUpperBound' or 'target'",
    ]);
  });

  it('reports what the autoscaler would refuse at run time, once', () => {
    expect(problems(withAutoscaler('metric: cpu, target: 50, metricUpperBound: 80'))).toEqual([
      "8:9: policy 'autoscaler' in service 'web': set either 'target' (target tracking) or 'metricLowerBound'/'metricUpperBound' (bounds), not both",
    ]);
    expect(problems(withAutoscaler('metric: cpu, metricLowerBound: 80, metricUpperBound: 80'))).toEqual([
      "8:9: policy 'autoscaler' in service 'web': 'metricLowerBound' (80) must be below 'metricUpperBound' (80)",
    ]);
    expect(
      problems(withAutoscaler('metric: cpu, metricUpperBound: 80, resizeUpIterationIncrement: 0')),
    ).toEqual([
      "8:9: policy 'autoscaler' in service 'web': 'resizeUpIterationIncrement' must be at least 1, got 0",
    ]);
    // The parser's own check is not repeated by the run-time one.
    expect(
      problems(withAutoscaler('metric: cpu, metricUpperBound: 80, minPoolSize: 5, maxPoolSize: 2')),
    ).toEqual([
      "8:9: policy 'autoscaler' in service 'web': 'minPoolSize' (5) must not exceed 'maxPoolSize' (2)",
    ]);
  });
});
