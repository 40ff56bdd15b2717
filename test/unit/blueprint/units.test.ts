import * as fs from 'fs';
import * as path from 'path';
import { parseCpus, parseDuration, parseMemory, parsePort } from '../../../src/core/blueprint/units';
import { closest, editDistance } from '../../../src/core/blueprint/didyoumean';
import { BLUEPRINT_SCHEMA } from '../../../src/core/blueprint/schema';
import {
  SERVICE_CONFIG_KEYS,
  SERVICE_STRUCTURE_KEYS,
  TOP_LEVEL_KEYS,
} from '../../../src/core/blueprint/keys';
import { nativeStrategyName as strategyName } from '../../../src/core/placement/registry';
import { parseRuleText as parseAffinityRule } from '../../../src/core/placement/affinity-rules';

describe('units', () => {
  it('ports', () => {
    expect(parsePort('8080')).toEqual({ ok: true, value: { container: 8080, protocol: 'tcp' } });
    expect(parsePort('0:80/udp')).toEqual({ ok: true, value: { container: 80, host: 0, protocol: 'udp' } });
    expect(parsePort('70000').ok).toBe(false);
  });
  it('memory', () => {
    expect(parseMemory('256MiB')).toEqual({ ok: true, value: 268435456 });
    expect(parseMemory('1GB')).toEqual({ ok: true, value: 1e9 });
    expect(parseMemory('512')).toEqual({ ok: true, value: 512 * 1024 * 1024 });
    expect(parseMemory('lots').ok).toBe(false);
  });
  it('cpus and durations', () => {
    expect(parseCpus('250m')).toEqual({ ok: true, value: 0.25 });
    expect(parseDuration('5m')).toEqual({ ok: true, value: 300000 });
    expect(parseDuration('1500')).toEqual({ ok: true, value: 1500 });
  });
});

describe('did you mean', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('imgae', 'image')).toBe(1);
    expect(closest('imgae', ['image', 'env'])).toBe('image');
    expect(closest('zzz', ['image', 'env'])).toBeUndefined();
  });
});

describe('strategies and rules', () => {
  it('Clocker class names under both prefixes map to native names', () => {
    expect(strategyName('brooklyn.location.docker.strategy.DepthFirstPlacementStrategy')).toBe('depthFirst');
    expect(strategyName('clocker.docker.location.strategy.basic.LabelPlacementStrategy')).toBe(
      'labelConstraint',
    );
    expect(strategyName('clocker.docker.location.strategy.ProvisioningStrategy')).toBe('provisioning');
    expect(strategyName('nope')).toBeUndefined();
    // The blueprint reads names through the placement registry: these two were missing there once,
    // and HostnamePlacementStrategy meant labelConstraint on one side and hostname on the other.
    expect(strategyName('brooklyn.location.docker.strategy.HostnamePlacementStrategy')).toBe('hostname');
    expect(strategyName('LowestCpuUsagePlacementStrategy')).toBe('lowestCpuUsage');
  });
  it('Clocker affinity strings', () => {
    expect(parseAffinityRule('NOT ID web', 'app')).toEqual({
      negate: true,
      target: 'service',
      value: 'web',
      hard: true,
      weight: 1,
    });
    expect(parseAffinityRule('PREDICATE com.x.Y', 'app')).toEqual({
      error: 'PREDICATE rules (Java predicate classes) are not supported',
    });
  });
});

describe('JSON Schema', () => {
  it('lists every key the parser accepts', () => {
    const service = BLUEPRINT_SCHEMA.definitions.service.properties as Record<string, unknown>;
    for (const key of [...Object.keys(SERVICE_STRUCTURE_KEYS), ...Object.keys(SERVICE_CONFIG_KEYS)])
      expect(service).toHaveProperty([key]);
    const config = BLUEPRINT_SCHEMA.definitions.config.properties as Record<string, unknown>;
    for (const key of Object.keys(SERVICE_CONFIG_KEYS)) expect(config).toHaveProperty([key]);
    for (const key of TOP_LEVEL_KEYS) expect(BLUEPRINT_SCHEMA.properties).toHaveProperty([key]);
  });

  it('docs/blueprint.schema.json is what `berth schema` prints (regenerate it with that command)', () => {
    const published = fs.readFileSync(
      path.join(__dirname, '..', '..', '..', 'docs', 'blueprint.schema.json'),
      'utf8',
    );
    expect(JSON.parse(published)).toEqual(JSON.parse(JSON.stringify(BLUEPRINT_SCHEMA)));
  });
});
