/**
 * The placement pipeline, one container at a time, in demand order:
 *
 *   candidates = every host (ascending id; no sampling)
 *   → each filter of the chain, in chain order, removes hosts (counted, with its reason)
 *   → if none is left: each provisioning strategy of the chain may add one host of its profile
 *   → each scorer writes a normalised score in [-1, 1]; the final score is the weighted mean
 *     `Σ wᵢ·sᵢ / Σ wᵢ` over the scorers that apply (every scorer counts: unlike Clocker, the last
 *     comparator of a chain does not silently win)
 *   → the best host wins; ties go to the lowest host id (stable, input-order independent)
 *   → the placement is committed to the per-host counters, so it counts as load for the next one.
 *
 * Pure and deterministic: same request, same result.
 */
import type { StrategyConfig } from '../blueprint/model';
import { StrategyConfigError } from './config';
import { createStrategy } from './registry';
import { ClusterState, groupKey } from './state';
import {
  type Filter,
  type PlacementContext,
  type Provisioner,
  type Scorer,
  type Strategy,
  hosts,
} from './strategy';
import { describeProfile } from './strategies';
import type {
  ContainerDemand,
  FilterCount,
  HostScore,
  PlaceOptions,
  Placement,
  PlacementMetrics,
  PlacementRequest,
  PlacementResult,
  ProvisionPlan,
  Unplaced,
} from './types';

/**
 * Used when neither the service nor the blueprint configures a chain: resource fit, Clocker's
 * container limit, then breadth first (spread by container count).
 */
export const DEFAULT_CHAIN: readonly StrategyConfig[] = Object.freeze([
  { name: 'memoryAvailable', config: {} },
  { name: 'cpuCoresAvailable', config: {} },
  // Clocker's own default (8) applies when a blueprint names the strategy; the implicit chain caps
  // a host like kubelet's maxPods, so an unconfigured app of a few dozen containers still fits.
  { name: 'maxContainers', config: { maxContainers: 110 } },
  { name: 'breadthFirst', config: {} },
]);

interface NamedFilter {
  name: string;
  f: Filter;
}
interface NamedScorer {
  name: string;
  s: Scorer;
}

export interface CompiledChain {
  strategies: Strategy[];
  filters: NamedFilter[];
  scorers: NamedScorer[];
  provisioners: Provisioner[];
}

/**
 * Builds a chain from configuration (validating every entry). When `withAffinity` is set and the
 * chain has no `affinity` strategy, one is appended so that a service's affinity rules are always
 * enforced; `withVolumeHost` puts `volumeHost` first, so an instance with named volumes only ever
 * goes to the host that holds them.
 */
export function compileChain(
  configs: readonly StrategyConfig[],
  where = '',
  withAffinity = false,
  withVolumeHost = false,
): CompiledChain {
  const strategies = configs.map((s, i) => {
    if (!s || typeof s.name !== 'string')
      throw new StrategyConfigError(`${where ? `${where}: ` : ''}placement[${i}] must have a strategy name`);
    return createStrategy(s.name, s.config, where);
  });
  if (withAffinity && !strategies.some((s) => s.name === 'affinity'))
    strategies.push(createStrategy('affinity', {}, where));
  if (withVolumeHost && !strategies.some((s) => s.name === 'volumeHost'))
    strategies.unshift(createStrategy('volumeHost', {}, where));
  return {
    strategies,
    filters: strategies.filter((s) => s.filter).map((s) => ({ name: s.name, f: s.filter as Filter })),
    scorers: strategies.filter((s) => s.scorer).map((s) => ({ name: s.name, s: s.scorer as Scorer })),
    provisioners: strategies.filter((s) => s.provisioning).map((s) => s.provisioning as Provisioner),
  };
}

/** Compiled chains by identity of the config array (fast path), then by content. */
class ChainCache {
  private byRef = new WeakMap<readonly StrategyConfig[], Map<string, CompiledChain>>();
  private byKey = new Map<string, CompiledChain>();

  get(c: ContainerDemand): CompiledChain {
    const chain = c.strategies.length ? c.strategies : DEFAULT_CHAIN;
    const aff = c.affinity.length > 0;
    const pinned = c.volumeHost !== undefined;
    const variant = `${aff ? 'a' : '-'}${pinned ? 'v' : '-'}${c.where ?? ''}`;
    let m = this.byRef.get(chain);
    if (!m) this.byRef.set(chain, (m = new Map()));
    let compiled = m.get(variant);
    if (!compiled) {
      const key = `${variant}\u0000${JSON.stringify(chain)}`;
      compiled = this.byKey.get(key);
      if (!compiled) {
        compiled = compileChain(chain, c.where ?? `service '${c.service}'`, aff, pinned);
        this.byKey.set(key, compiled);
      }
      m.set(variant, compiled);
    }
    return compiled;
  }
}

function runFilter(nf: NamedFilter, ctx: PlacementContext, cand: Int32Array, n: number): number {
  const f = nf.f;
  if (f.filter) return f.filter(ctx, cand, n);
  if (!f.accepts) return n;
  let k = 0;
  for (let i = 0; i < n; i++) {
    const h = cand[i];
    if (f.accepts(h, ctx)) cand[k++] = h;
  }
  return k;
}

function runScorer(
  ns: NamedScorer,
  ctx: PlacementContext,
  cand: Int32Array,
  n: number,
  out: Float64Array,
): void {
  const s = ns.s;
  if (s.scoreAll) s.scoreAll(ctx, cand, n, out);
  else if (s.score) for (let i = 0; i < n; i++) out[i] = s.score(cand[i], ctx);
  else out.fill(0, 0, n);
}

/** Runs the chain's filters, recording how many hosts each removed. */
function filterHosts(
  chain: CompiledChain,
  ctx: PlacementContext,
  cand: Int32Array,
  n: number,
  counts: FilterCount[],
): number {
  for (const nf of chain.filters) {
    if (nf.f.applies && !nf.f.applies(ctx)) continue;
    const before = n;
    n = before === 0 ? 0 : runFilter(nf, ctx, cand, n);
    const excluded = before - n;
    counts.push({
      strategy: nf.name,
      excluded,
      reason: nf.f.explain ? nf.f.explain(excluded, ctx) : `${nf.name} excluded ${hosts(excluded)}`,
    });
  }
  return n;
}

function reasonsOf(counts: FilterCount[]): string {
  return counts
    .filter((c) => c.excluded > 0)
    .map((c) => c.reason)
    .join(', ');
}

/** Places every container of the request; see the module comment for the pipeline. */
export function place(req: PlacementRequest, opts: PlaceOptions = {}): PlacementResult {
  const state = new ClusterState(req.hosts);
  const chains = new ChainCache();
  // Compile (and so validate) every chain before placing anything.
  for (const c of req.containers) chains.get(c);

  let cand = new Int32Array(Math.max(16, state.n));
  let total = new Float64Array(cand.length);
  let tmp = new Float64Array(cand.length);
  const small = new Int32Array(3);
  const smallOut = new Float64Array(3);
  const usedIds = new Set(state.ids);
  const nextIndex = new Map<string, number>();
  const newHosts = new Map<string, number>();
  const plans = new Map<string, ProvisionPlan>();
  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];

  for (const c of req.containers) {
    if (!(c.cpus >= 0) || !(c.memoryBytes >= 0))
      throw new StrategyConfigError(`${c.instance}: cpus and memory requests must be non-negative numbers`);
    const chain = chains.get(c);
    const ctx: PlacementContext = {
      state,
      container: c,
      serviceKey: groupKey('service', c.app, c.service),
      appKey: groupKey('app', c.app, c.app),
    };
    if (cand.length < state.n) {
      cand = new Int32Array(state.n * 2);
      total = new Float64Array(cand.length);
      tmp = new Float64Array(cand.length);
    }
    let n = state.n;
    for (let i = 0; i < n; i++) cand[i] = i;
    const counts: FilterCount[] = [];
    const metrics: PlacementMetrics = { evaluated: n, filters: counts, topScores: [] };
    n = filterHosts(chain, ctx, cand, n, counts);

    if (n === 0) {
      const notes: string[] = [];
      let placedOn = -1;
      for (const p of chain.provisioners) {
        const made = newHosts.get(p.profile.name) ?? 0;
        if (made >= p.maxNewHosts) {
          notes.push(`limit of ${p.maxNewHosts} new ${describeProfile(p.profile)} hosts reached`);
          continue;
        }
        if (p.maxHosts !== undefined && state.n >= p.maxHosts) {
          notes.push(`pool is at maxHosts (${p.maxHosts})`);
          continue;
        }
        let k = nextIndex.get(p.idPrefix) ?? 1;
        while (usedIds.has(`${p.idPrefix}-${k}`)) k++;
        const id = `${p.idPrefix}-${k}`;
        const h = state.addHost(
          {
            id,
            cpus: p.profile.cpus,
            memoryBytes: p.profile.memoryBytes,
            labels: p.profile.labels,
            containers: [],
            profile: p.profile.name,
          },
          true,
        );
        if (cand.length < state.n) {
          cand = new Int32Array(state.n * 2);
          total = new Float64Array(cand.length);
          tmp = new Float64Array(cand.length);
        }
        cand[0] = h;
        const probe: FilterCount[] = [];
        if (filterHosts(chain, ctx, cand, 1, probe) === 1) {
          usedIds.add(id);
          nextIndex.set(p.idPrefix, k + 1);
          newHosts.set(p.profile.name, made + 1);
          let plan = plans.get(p.profile.name);
          if (!plan) {
            plan = {
              profile: p.profile.name,
              count: 0,
              cpus: p.profile.cpus,
              memoryBytes: p.profile.memoryBytes,
              labels: p.profile.labels,
              hosts: [],
            };
            plans.set(p.profile.name, plan);
          }
          plan.count++;
          plan.hosts.push(id);
          metrics.provisioned = id;
          placedOn = h;
          break;
        }
        state.removeLastHost();
        notes.push(`a new ${describeProfile(p.profile)} host would not fit either (${reasonsOf(probe)})`);
      }
      if (placedOn < 0) {
        if (notes.length) metrics.provisioning = notes.join('; ');
        const why = metrics.evaluated === 0 ? 'no hosts in the inventory' : reasonsOf(counts);
        unplaced.push({
          app: c.app,
          service: c.service,
          instance: c.instance,
          reason: `no host fits ${c.instance}: ${why}${notes.length ? `; provisioning: ${notes.join('; ')}` : ''}`,
          metrics,
        });
        continue;
      }
      cand[0] = placedOn;
      n = 1;
    }

    // Score.
    let weights = 0;
    const applied: NamedScorer[] = [];
    for (const ns of chain.scorers) {
      if (ns.s.weight <= 0 || (ns.s.applies && !ns.s.applies(ctx))) continue;
      if (applied.length === 0) total.fill(0, 0, n);
      applied.push(ns);
      runScorer(ns, ctx, cand, n, tmp);
      const w = ns.s.weight;
      for (let i = 0; i < n; i++) total[i] += w * tmp[i];
      weights += w;
    }
    let b0 = 0;
    let b1 = -1;
    let b2 = -1;
    let s0 = 0;
    let s1 = -Infinity;
    let s2 = -Infinity;
    if (weights > 0) {
      const inv = 1 / weights;
      s0 = -Infinity;
      for (let i = 0; i < n; i++) {
        const s = total[i] * inv;
        if (s > s0) {
          b2 = b1;
          s2 = s1;
          b1 = b0;
          s1 = s0;
          b0 = i;
          s0 = s;
        } else if (s > s1) {
          b2 = b1;
          s2 = s1;
          b1 = i;
          s1 = s;
        } else if (s > s2) {
          b2 = i;
          s2 = s;
        }
      }
    } else {
      // No scorer: every host scores 0, so the order is the host id order.
      if (n > 1) {
        b1 = 1;
        s1 = 0;
      }
      if (n > 2) {
        b2 = 2;
        s2 = 0;
      }
    }
    const top: HostScore[] = [{ host: state.ids[cand[b0]], score: s0 }];
    if (b1 >= 0) top.push({ host: state.ids[cand[b1]], score: s1 });
    if (b2 >= 0) top.push({ host: state.ids[cand[b2]], score: s2 });
    if (opts.explain && applied.length) {
      const idx = [b0, b1, b2].filter((b) => b >= 0);
      idx.forEach((b, j) => (small[j] = cand[b]));
      for (const t of top) t.components = {};
      for (const ns of applied) {
        runScorer(ns, ctx, small, idx.length, smallOut);
        for (let j = 0; j < idx.length; j++)
          (top[j].components as Record<string, number>)[ns.name] = smallOut[j];
      }
    }
    metrics.topScores = top;
    const h = cand[b0];
    state.account(h, c, true);
    placements.push({
      app: c.app,
      service: c.service,
      instance: c.instance,
      host: state.ids[h],
      score: s0,
      metrics,
    });
  }
  return { placements, unplaced, provision: [...plans.values()] };
}

function round(x: number): string {
  return (Math.round(x * 1000) / 1000).toString();
}

/** One line: hosts evaluated, what each filter removed, the top scores (with components if recorded). */
export function explainPlacement(p: Placement): string {
  const m = p.metrics;
  const parts = [`${hosts(m.evaluated)} evaluated`];
  const f = reasonsOf(m.filters);
  if (f) parts.push(f);
  if (m.provisioned) parts.push(`provisioned ${m.provisioned}`);
  parts.push(
    `top: ${m.topScores
      .map(
        (t) =>
          `${t.host} ${round(t.score)}${
            t.components
              ? ` (${Object.entries(t.components)
                  .map(([k, v]) => `${k} ${round(v)}`)
                  .join(', ')})`
              : ''
          }`,
      )
      .join(', ')}`,
  );
  return parts.join('; ');
}
