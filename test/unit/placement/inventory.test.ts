import { InventoryError, parseInventory } from '../../../src/core/placement/inventory';
import { parseBytes } from '../../../src/core/placement/config';

const GiB = 1024 ** 3;

function errorOf(text: string): { message: string; problems: string[] } {
  try {
    parseInventory(text, 'inv.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(InventoryError);
    return { message: (e as InventoryError).message, problems: (e as InventoryError).problems };
  }
  throw new Error('no error');
}

test('parses hosts, sizes, labels, containers as a list or a count', () => {
  const hosts = parseInventory(
    `hosts:
  - id: h1
    cpus: 8
    memory: 16GiB
    labels: { zone: a, ssd: true }
    cpuUsage: 0.25
    containers:
      - { app: shop, service: db, cpus: 2, memory: 512MiB }
  - id: h2
    cpus: 2
    memory: 2000000000
    containers: 3
    reservations:
      - { app: shop, service: web, memory: 1G }
`,
    'inv.yaml',
  );
  expect(hosts).toEqual([
    {
      id: 'h1',
      cpus: 8,
      memoryBytes: 16 * GiB,
      labels: { zone: 'a', ssd: 'true' },
      cpuUsage: 0.25,
      containers: [{ app: 'shop', service: 'db', cpus: 2, memoryBytes: 512 * 1024 ** 2 }],
    },
    {
      id: 'h2',
      cpus: 2,
      memoryBytes: 2e9,
      labels: {},
      containers: [
        { app: '', service: '' },
        { app: '', service: '' },
        { app: '', service: '' },
      ],
      reservations: [{ app: 'shop', service: 'web', cpus: 0, memoryBytes: 1e9 }],
    },
  ]);
});

test('sizes', () => {
  expect(parseBytes('8GiB')).toBe(8 * GiB);
  expect(parseBytes('1.5Gi')).toBe(1.5 * GiB);
  expect(parseBytes('512M')).toBe(512e6);
  expect(parseBytes('lots')).toBeUndefined();
  expect(parseBytes('-1')).toBeUndefined();
});

test('a wrong type is one located line', () => {
  const e = errorOf(`hosts:
  - id: h1
    cpus: lots
    memory: 8GiB
`);
  expect(e.message).toBe('inv.yaml:3:11: hosts[0].cpus must be a positive number, got "lots"');
});

test('bad memory, cpuUsage, unknown keys and duplicates: every problem, each located', () => {
  const e = errorOf(`hosts:
  - id: h1
    cpus: 4
    memory: eight
    cpuUsage: 1.5
  - id: h1
    cpus: 4
    memroy: 8GiB
    containers:
      - { app: shop }
`);
  expect(e.message).toBe('6 problems in inv.yaml');
  expect(e.problems).toEqual([
    'inv.yaml:4:13: hosts[0].memory must be a size like 8GiB or a number of bytes, got "eight"',
    'inv.yaml:5:15: hosts[0].cpuUsage must be a number between 0 and 1, got 1.5',
    "inv.yaml:8:5: hosts[1]: unknown key 'memroy' (known: id, cpus, memory, labels, cpuUsage, containers, reservations, profile)",
    "inv.yaml:6:9: hosts[1].id: duplicate host id 'h1' (first at inv.yaml:2:9)",
    "inv.yaml:6:5: hosts[1]: key 'memory' is required",
    "inv.yaml:10:9: hosts[1].containers[0]: key 'service' is required",
  ]);
});

test('structure errors', () => {
  expect(errorOf('- h1\n').message).toBe("inv.yaml:1:1: an inventory must be a mapping with a 'hosts' list");
  expect(errorOf('hosts: 3\n').message).toBe("inv.yaml:1:8: key 'hosts' must be a list of hosts");
  expect(errorOf('hosts:\n  - [1]\n').message).toBe(
    'inv.yaml:2:5: hosts[0] must be a mapping with id, cpus, memory',
  );
  expect(errorOf('hosts: [\n').message).toMatch(/^inv\.yaml:\d+:\d+: invalid YAML: /);
  expect(errorOf('hosts:\n  - { id: h, cpus: 1, memory: 1G, containers: many }\n').message).toBe(
    'inv.yaml:2:47: hosts[0].containers must be a count or a list of {app, service, cpus?, memory?}, got "many"',
  );
});
