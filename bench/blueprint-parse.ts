/**
 * Parses a generated 1,000-service blueprint (mixed native and Clocker forms, references between
 * services) several times and prints the median: `{"benchmark":"blueprint-parse","services":...}`.
 */
import { parseBlueprint } from '../src/core/blueprint/parse';

const SERVICES = 1000;
const RUNS = 9;

export function generateBlueprint(n: number): string {
  const lines = ['id: bench', 'name: Benchmark', 'network: 10.250.0.0/16', 'services:'];
  for (let i = 0; i < n; i++) {
    const dep = i > 0 ? `s${i - 1}` : undefined;
    if (i % 2 === 0) {
      lines.push(
        `  - id: s${i}`,
        '    image: berth/busybox:1',
        "    command: [httpd, -f, -p, '8080', -h, /www]",
        "    ports: ['8080', '0:9090/udp']",
        '    memory: 64MiB',
        '    env:',
        `      INDEX: "${i}"`,
        ...(dep ? [`      UPSTREAM: http://\${${dep}.host}:8080/`] : []),
        '    placement: [{maxContainers: 8}, breadthFirst]',
      );
    } else {
      lines.push(
        `  - type: docker:berth/busybox:1`,
        `    id: s${i}`,
        '    brooklyn.config:',
        '      docker.openPorts: [8080]',
        '      shell.env:',
        `        UPSTREAM: $brooklyn:component("${dep}").attributeWhenReady("host.address")`,
        '      docker.container.strategies:',
        '        - $brooklyn:object:',
        '            type: brooklyn.location.docker.strategy.CpuUsagePlacementStrategy',
        '            brooklyn.config: {maxCpu: 0.8}',
        '    affinity.rules: ["NOT EMPTY"]',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const text = generateBlueprint(SERVICES);
  const times: number[] = [];
  let count = 0;
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    count = parseBlueprint(text, 'bench.yaml').services.length;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const ms = Math.round(times[Math.floor(times.length / 2)] * 10) / 10;
  console.log(JSON.stringify({ benchmark: 'blueprint-parse', services: count, ms, runs: RUNS }));
}

if (require.main === module) main();
