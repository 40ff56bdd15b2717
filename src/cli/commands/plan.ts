/** `berth plan BLUEPRINT [--inventory FILE] [--explain] [--json]`: a placement dry run. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseBlueprint } from '../../core/blueprint/parse';
import { readBlueprintText } from '../blueprint-file';
import { UserError } from '../../core/errors';
import { formatBytes } from '../../core/placement/config';
import { buildDemand } from '../../core/placement/demand';
import { explainPlacement, place } from '../../core/placement/engine';
import { parseInventory } from '../../core/placement/inventory';
import type { HostSupply, PlacementResult } from '../../core/placement/types';

interface PlanOptions {
  inventory?: string;
  explain?: boolean;
  json?: boolean;
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

async function loadHosts(file: string | undefined): Promise<HostSupply[]> {
  if (file) return parseInventory(readText(file, 'inventory'), file);
  const { liveInventory } = await import('../../adapters/live-inventory');
  try {
    return await liveInventory();
  } catch (err) {
    throw new UserError(
      `cannot read the live inventory from the local Docker engine (${(err as Error).message}); use --inventory FILE`,
    );
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function planJson(r: PlacementResult, explain: boolean): unknown {
  return {
    placements: r.placements.map((p) => ({
      service: p.service,
      instance: p.instance,
      host: p.host,
      score: round(p.score),
      ...(p.metrics.provisioned ? { provisioned: true } : {}),
      ...(explain ? { explanation: explainPlacement(p), metrics: p.metrics } : {}),
    })),
    unplaced: r.unplaced.map((u) => ({
      service: u.service,
      instance: u.instance,
      reason: u.reason,
      ...(explain ? { metrics: u.metrics } : {}),
    })),
    provision: r.provision,
  };
}

export function planTable(r: PlacementResult, explain: boolean): string {
  const lines: string[] = [];
  const rows = r.placements.map((p) => [
    p.instance,
    p.service,
    p.host + (p.metrics.provisioned ? ' (new)' : ''),
    round(p.score).toString(),
  ]);
  const head = ['INSTANCE', 'SERVICE', 'HOST', 'SCORE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]): string =>
    row
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  if (rows.length) {
    lines.push(fmt(head));
    r.placements.forEach((p, i) => {
      lines.push(fmt(rows[i]));
      if (explain) lines.push(`  ${explainPlacement(p)}`);
    });
  }
  if (r.unplaced.length) {
    if (lines.length) lines.push('');
    lines.push(`${r.unplaced.length} unplaced:`);
    for (const u of r.unplaced) lines.push(`  ${u.reason}`);
  }
  if (r.provision.length) {
    if (lines.length) lines.push('');
    lines.push('provision:');
    for (const p of r.provision)
      lines.push(
        `  ${p.count} × '${p.profile}' (${p.cpus} cpus, ${formatBytes(p.memoryBytes)}): ${p.hosts.join(', ')}`,
      );
  }
  if (!lines.length) lines.push('nothing to place');
  return lines.join('\n');
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('Dry run: show where each container of a blueprint would be placed, and why')
    .argument('<blueprint>', 'blueprint YAML file')
    .option('--inventory <file>', 'hosts from a YAML inventory file instead of the local Docker engine')
    .option('--explain', 'explain each placement (hosts evaluated, filtered, top scores)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: PlanOptions) => {
      const bp = parseBlueprint(readBlueprintText(file), file);
      const demand = buildDemand(bp);
      const hosts = await loadHosts(opts.inventory);
      const result = place({ containers: demand, hosts }, { explain: !!opts.explain });
      if (opts.json) console.log(JSON.stringify(planJson(result, !!opts.explain), null, 2));
      else console.log(planTable(result, !!opts.explain));
    });
}
