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
import type { ContainerDemand, HostSupply, PlacementResult } from '../../core/placement/types';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { PlacementView } from '../../../workflows/api/inventory';
import { isTemporalReachable, temporalTarget } from '../../adapters/temporal';
import { openSession } from '../session';

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

/** Where a plan's hosts came from, and the planned app's instances that keep their reserved host. */
interface PlanSupply {
  hosts: HostSupply[];
  kept: KeptPlacement[];
  source: string;
}

export interface KeptPlacement {
  service: string;
  instance: string;
  host: string;
}

/**
 * The hosts to plan against: an inventory file; else the live pool as Berth's inventory workflow
 * sees it (ready hosts, sensed CPU use, every reservation), where instances of this app that are
 * reserved already keep their host, as a deploy would; else (no Berth server, or no pool yet) the
 * local engine, which a new pool starts with.
 */
async function loadHosts(
  file: string | undefined,
  demand: ContainerDemand[],
  app: string,
): Promise<PlanSupply> {
  if (file) return { hosts: parseInventory(readText(file, 'inventory'), file), kept: [], source: file };
  const pool = await livePool(app);
  if (pool) {
    const kept = demand
      .filter((c) => pool.hosts.some((h) => h.id === pool.reserved[c.instance]))
      .map((c) => ({ service: c.service, instance: c.instance, host: pool.reserved[c.instance] }));
    return { hosts: pool.hosts, kept, source: 'the live pool' };
  }
  const { liveInventory } = await import('../../adapters/live-inventory');
  try {
    return { hosts: await liveInventory(), kept: [], source: 'the local engine (no pool yet)' };
  } catch (err) {
    throw new UserError(
      `cannot read the live inventory from the local Docker engine (${(err as Error).message}); use --inventory FILE`,
    );
  }
}

/** The pool as the inventory workflow sees it, or undefined when no Berth server answers or it has no pool. */
async function livePool(app: string): Promise<PlacementView | undefined> {
  const target = temporalTarget();
  // A server the user named gets longer to answer than the auto-started one Berth falls back from
  // (a loaded machine took more than the default 1.5 s).
  if (!(await isTemporalReachable(target, target.embedded ? undefined : 10_000))) {
    if (!target.embedded)
      throw new UserError(
        `no Temporal server answers at ${target.address}: start it, or use --inventory FILE`,
      );
    return undefined;
  }
  const session = await openSession({ autostart: false });
  try {
    return await session.inventory.placement(app);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  } finally {
    await session.client.connection.close().catch(() => undefined);
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

export function planJson(r: PlacementResult, explain: boolean, kept: KeptPlacement[] = []): unknown {
  return {
    placements: [
      ...kept.map((k) => ({ ...k, kept: true })),
      ...r.placements.map((p) => ({
        service: p.service,
        instance: p.instance,
        host: p.host,
        score: round(p.score),
        ...(p.metrics.provisioned ? { provisioned: true } : {}),
        ...(explain ? { explanation: explainPlacement(p), metrics: p.metrics } : {}),
      })),
    ],
    unplaced: r.unplaced.map((u) => ({
      service: u.service,
      instance: u.instance,
      reason: u.reason,
      ...(explain ? { metrics: u.metrics } : {}),
    })),
    provision: r.provision,
  };
}

export function planTable(r: PlacementResult, explain: boolean, kept: KeptPlacement[] = []): string {
  const lines: string[] = [];
  const keptRows = kept.map((k) => [k.instance, k.service, `${k.host} (kept)`, '-']);
  const rows = r.placements.map((p) => [
    p.instance,
    p.service,
    p.host + (p.metrics.provisioned ? ' (new)' : ''),
    round(p.score).toString(),
  ]);
  const head = ['INSTANCE', 'SERVICE', 'HOST', 'SCORE'];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...[...keptRows, ...rows].map((row) => row[i].length)),
  );
  const fmt = (row: string[]): string =>
    row
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  if (rows.length || keptRows.length) {
    lines.push(fmt(head));
    for (const row of keptRows) lines.push(fmt(row));
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
    .option('--inventory <file>', "hosts from a YAML inventory file instead of Berth's live pool")
    .option('--explain', 'explain each placement (hosts evaluated, filtered, top scores)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: PlanOptions) => {
      const bp = parseBlueprint(readBlueprintText(file), file);
      const demand = buildDemand(bp);
      const { hosts, kept, source } = await loadHosts(opts.inventory, demand, bp.app);
      const fresh = demand.filter((c) => !kept.some((k) => k.instance === c.instance));
      const result = place({ containers: fresh, hosts }, { explain: !!opts.explain });
      if (opts.json)
        console.log(
          JSON.stringify({ ...(planJson(result, !!opts.explain, kept) as object), source }, null, 2),
        );
      else console.log(`${planTable(result, !!opts.explain, kept)}\n(planned against ${source})`);
    });
}
