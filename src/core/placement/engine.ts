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
import { createStrategy, isBuiltinStrategy } from './registry';
import { ClusterState } from './state';
import {
  type Filter,
  type NamedFilter,
  type NamedScorer,
  type PlacementContext,
  type Provisioner,
  type Scorer,
  type Strategy,
  hosts,
} from './strategy';
import { KeptVerdicts, Scratch, type Ranked, filterCount, runFilter, runScorer } from './verdicts';
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

export interface CompiledChain {
  strategies: Strategy[];
  filters: NamedFilter[];
  scorers: NamedScorer[];
  provisioners: Provisioner[];
  /** Every filter and scorer is host-local: verdicts may be kept between placements. */
  hostLocal: boolean;
  /** Every strategy is a built-in: the compiled chain may serve later runs (ChainCache). */
  builtinOnly: boolean;
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
  const filters = strategies.filter((s) => s.filter).map((s) => ({ name: s.name, f: s.filter as Filter }));
  const scorers = strategies.filter((s) => s.scorer).map((s) => ({ name: s.name, s: s.scorer as Scorer }));
  return {
    strategies,
    filters,
    scorers,
    provisioners: strategies.filter((s) => s.provisioning).map((s) => s.provisioning as Provisioner),
    hostLocal: filters.every((x) => x.f.hostLocal) && scorers.every((x) => x.s.hostLocal),
    builtinOnly: strategies.every((s) => isBuiltinStrategy(s.name)),
  };
}

/**
 * Compiled chains by identity of the config array (fast path), then by content. A chain of built-in
 * strategies only is kept in `BUILTIN_CHAINS` for the life of the process: a worker places again and
 * again with the same blueprints' chains, and compiling them anew each time also made V8 re-optimise
 * their closures on every call (a fifth of a 10,000-container run's CPU at 1,000 hosts). Built-ins
 * keep no run's state but in WeakMaps keyed by the run's `ClusterState`, so a kept chain gives the
 * same results as a new one. A chain with a custom strategy is compiled per run, as its factory may
 * expect (and re-registering its name must take effect).
 */
class ChainCache {
  private byRef = new WeakMap<readonly StrategyConfig[], Map<string, CompiledChain>>();
  private byKey = new Map<string, CompiledChain>();

  constructor(
    /** Where chains of built-ins only are kept; undefined in the process-wide cache itself. */
    private readonly builtins?: ChainCache,
    /** Distinct chains kept before the cache starts afresh (a long-lived worker sees many blueprints). */
    private readonly limit = Infinity,
  ) {}

  get(c: ContainerDemand): CompiledChain {
    const chain = c.strategies.length ? c.strategies : DEFAULT_CHAIN;
    const aff = c.affinity.length > 0;
    const pinned = c.volumeHost !== undefined;
    const variant = `${aff ? 'a' : '-'}${pinned ? 'v' : '-'}${c.where ?? ''}`;
    let compiled = this.find(chain, variant) ?? this.builtins?.find(chain, variant);
    if (!compiled) {
      const key = `${variant}\u0000${JSON.stringify(chain)}`;
      compiled = this.byKey.get(key) ?? this.builtins?.byKey.get(key);
      if (!compiled) compiled = compileChain(chain, c.where ?? `service '${c.service}'`, aff, pinned);
      const home = compiled.builtinOnly && this.builtins ? this.builtins : this;
      home.keep(chain, variant, key, compiled);
    }
    return compiled;
  }

  private find(chain: readonly StrategyConfig[], variant: string): CompiledChain | undefined {
    return this.byRef.get(chain)?.get(variant);
  }

  private keep(
    chain: readonly StrategyConfig[],
    variant: string,
    key: string,
    compiled: CompiledChain,
  ): void {
    if (this.byKey.size >= this.limit) {
      this.byRef = new WeakMap();
      this.byKey.clear();
    }
    this.byKey.set(key, compiled);
    let m = this.byRef.get(chain);
    if (!m) this.byRef.set(chain, (m = new Map()));
    m.set(variant, compiled);
  }
}

const BUILTIN_CHAINS = new ChainCache(undefined, 256);

/** A kind's containers in the request, and its verdicts once kept. */
interface KindEntry {
  count: number;
  kept?: KeptVerdicts;
}

/**
 * Kept verdicts by kind of container: one compiled chain and one demand (everything a host-local
 * strategy may read: the container's fields but its instance name and `where`).
 */
class KindCache {
  private byChain = new Map<CompiledChain, Map<string, KindEntry>>();
  /** By service: the last kind placed (or counted), with the demand it was found for. */
  private recent = new Map<string, RecentKind>();
  /** Texts of affinity rule lists, by identity: a service's containers share one. */
  private texts = new WeakMap<object, string>();

  constructor(private readonly state: ClusterState) {}

  /**
   * The kept verdicts of this container's kind; undefined for a kind of one container in the
   * request (such as an instance pinned to its volumes), which a full scan judges more cheaply.
   */
  get(chain: CompiledChain, ctx: PlacementContext): KeptVerdicts | undefined {
    const e = this.find(chain, ctx.container, ctx.serviceKey);
    if (!e.kept && e.count >= 2) {
      const filters = chain.filters.filter((nf) => !nf.f.applies || nf.f.applies(ctx));
      const scorers = chain.scorers.filter((ns) => ns.s.weight > 0 && (!ns.s.applies || ns.s.applies(ctx)));
      e.kept = new KeptVerdicts(this.state, filters, scorers);
    }
    return e.kept;
  }

  /** Counts a container of the request under its kind, before any is placed. */
  note(chain: CompiledChain, c: ContainerDemand): void {
    this.find(chain, c, this.state.keyOf('service', c.app, c.service)).count++;
  }

  /**
   * The container's kind. Most containers are of the kind their service's last one was (the same
   * objects, even): known without building the kind's text, which costs more than a placement's
   * re-judging of a few hosts.
   */
  private find(chain: CompiledChain, c: ContainerDemand, serviceKey: string): KindEntry {
    const r = this.recent.get(serviceKey);
    if (
      r &&
      r.chain === chain &&
      r.cpus === c.cpus &&
      r.memoryBytes === c.memoryBytes &&
      r.image === c.image &&
      sameLabels(r.labels, c.labels) &&
      r.affinity === c.affinity &&
      // A pinned instance is a kind of its own, even if it shares its pin's object with another.
      r.volumeHost === undefined &&
      c.volumeHost === undefined
    )
      return r.entry;
    const entry = this.entry(chain, c, serviceKey);
    this.recent.set(serviceKey, { chain, ...c, entry });
    return entry;
  }

  private entry(chain: CompiledChain, c: ContainerDemand, serviceKey: string): KindEntry {
    // A pinned instance is a kind of its own: its explanation names it (and its volumes are its own).
    const vh = c.volumeHost ? `${c.instance}\u0000${JSON.stringify(c.volumeHost)}` : '';
    const key = `${serviceKey}\u0000${c.cpus}\u0000${c.memoryBytes}\u0000${c.image ?? ''}\u0000${labelsText(c.labels)}\u0000${this.text(c.affinity)}\u0000${vh}`;
    let kinds = this.byChain.get(chain);
    if (!kinds) this.byChain.set(chain, (kinds = new Map()));
    let e = kinds.get(key);
    if (!e) kinds.set(key, (e = { count: 0 }));
    return e;
  }

  private text(o: object): string {
    let t = this.texts.get(o);
    if (t === undefined) this.texts.set(o, (t = JSON.stringify(o)));
    return t;
  }
}

/** A service's last kind: the demand it was found for, its chain and its entry. */
type RecentKind = ContainerDemand & { chain: CompiledChain; entry: KindEntry };

/** Labels as text; most containers have none (and a labels object of their own). */
function labelsText(labels: Record<string, string>): string {
  for (const _ in labels) return JSON.stringify(labels);
  return '';
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  if (a === b) return true;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in b) if (--n < 0) return false;
  return true;
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
    counts.push(filterCount(nf, before - n, ctx));
  }
  return n;
}

function reasonsOf(counts: FilterCount[]): string {
  return counts
    .filter((c) => c.excluded > 0)
    .map((c) => c.reason)
    .join(', ');
}

/** The applying scorers' weighted mean over `cand[0..n)`: the three best, best first. */
function scoreCandidates(chain: CompiledChain, ctx: PlacementContext, n: number, scratch: Scratch): Ranked[] {
  const { work: cand, total, tmp } = scratch;
  let weights = 0;
  let applied = 0;
  for (const ns of chain.scorers) {
    if (ns.s.weight <= 0 || (ns.s.applies && !ns.s.applies(ctx))) continue;
    if (applied++ === 0) total.fill(0, 0, n);
    runScorer(ns, ctx, cand, n, tmp);
    const w = ns.s.weight;
    for (let i = 0; i < n; i++) total[i] += w * tmp[i];
    weights += w;
  }
  // No scorer: every host scores 0, so the order is the host id order.
  if (weights === 0) return [...cand.subarray(0, Math.min(n, 3))].map((host) => ({ host, score: 0 }));
  const inv = 1 / weights;
  const top = scratch.top;
  top.reset();
  // Candidates are in ascending host order, so a tie keeps the lower index.
  for (let i = 0; i < n; i++) top.offer(cand[i], total[i] * inv);
  return top.ranked();
}

/** Hosts added by provisioning strategies in one run, and their plans. */
class Provisioning {
  private usedIds: Set<string>;
  private nextIndex = new Map<string, number>();
  private newHosts = new Map<string, number>();
  readonly plans = new Map<string, ProvisionPlan>();

  constructor(private readonly state: ClusterState) {
    this.usedIds = new Set(state.ids);
  }

  /**
   * When nothing fits: the first provisioner whose new host passes the chain's filters adds it.
   * Returns its index, or -1 with the notes saying why none could.
   */
  provide(
    chain: CompiledChain,
    ctx: PlacementContext,
    scratch: Scratch,
    metrics: PlacementMetrics,
    notes: string[],
  ): number {
    const { state } = this;
    for (const p of chain.provisioners) {
      const made = this.newHosts.get(p.profile.name) ?? 0;
      if (made >= p.maxNewHosts) {
        notes.push(`limit of ${p.maxNewHosts} new ${describeProfile(p.profile)} hosts reached`);
        continue;
      }
      if (p.maxHosts !== undefined && state.n >= p.maxHosts) {
        notes.push(`pool is at maxHosts (${p.maxHosts})`);
        continue;
      }
      let k = this.nextIndex.get(p.idPrefix) ?? 1;
      while (this.usedIds.has(`${p.idPrefix}-${k}`)) k++;
      const id = `${p.idPrefix}-${k}`;
      const { cpus, memoryBytes, labels } = p.profile;
      const h = state.addHost(
        { id, cpus, memoryBytes, labels, containers: [], profile: p.profile.name },
        true,
      );
      scratch.ensure(state.n);
      scratch.work[0] = h;
      const probe: FilterCount[] = [];
      if (filterHosts(chain, ctx, scratch.work, 1, probe) === 1) {
        this.usedIds.add(id);
        this.nextIndex.set(p.idPrefix, k + 1);
        this.newHosts.set(p.profile.name, made + 1);
        let plan = this.plans.get(p.profile.name);
        if (!plan) {
          plan = { profile: p.profile.name, count: 0, cpus, memoryBytes, labels, hosts: [] };
          this.plans.set(p.profile.name, plan);
        }
        plan.count++;
        plan.hosts.push(id);
        metrics.provisioned = id;
        return h;
      }
      state.removeLastHost();
      notes.push(`a new ${describeProfile(p.profile)} host would not fit either (${reasonsOf(probe)})`);
    }
    return -1;
  }
}

/**
 * Places every container of the request; see the module comment for the pipeline. A chain whose
 * strategies are all host-local keeps its verdicts between placements (verdicts.ts); others, and
 * every chain with `fullScan`, judge every host for every container.
 */
export function place(req: PlacementRequest, opts: PlaceOptions = {}): PlacementResult {
  const state = new ClusterState(req.hosts);
  const chains = new ChainCache(BUILTIN_CHAINS);
  // Compile (and so validate) every chain before placing anything.
  const kinds = new KindCache(state);
  for (const c of req.containers) {
    const chain = chains.get(c);
    if (chain.hostLocal && !opts.fullScan) kinds.note(chain, c);
  }

  const scratch = new Scratch();
  const provisioning = new Provisioning(state);
  /** Hosts whose counters changed, in order: what kept verdicts must re-judge. */
  const changed: number[] = [];
  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];

  for (const c of req.containers) {
    if (!(c.cpus >= 0) || !(c.memoryBytes >= 0))
      throw new StrategyConfigError(`${c.instance}: cpus and memory requests must be non-negative numbers`);
    const chain = chains.get(c);
    const ctx: PlacementContext = {
      state,
      container: c,
      serviceKey: state.keyOf('service', c.app, c.service),
      appKey: state.keyOf('app', c.app, c.app),
    };
    const metrics: PlacementMetrics = { evaluated: state.n, filters: [], topScores: [] };
    let top: Ranked[] = [];
    const kept = chain.hostLocal && !opts.fullScan ? kinds.get(chain, ctx) : undefined;
    if (kept) {
      kept.sync(ctx, changed, scratch);
      metrics.filters = kept.counts(ctx);
      if (kept.passing > 0) top = kept.best();
    } else {
      scratch.ensure(state.n);
      for (let i = 0; i < state.n; i++) scratch.work[i] = i;
      const n = filterHosts(chain, ctx, scratch.work, state.n, metrics.filters);
      if (n > 0) top = scoreCandidates(chain, ctx, n, scratch);
    }

    if (top.length === 0) {
      const notes: string[] = [];
      const placedOn = provisioning.provide(chain, ctx, scratch, metrics, notes);
      if (placedOn < 0) {
        if (notes.length) metrics.provisioning = notes.join('; ');
        const why = metrics.evaluated === 0 ? 'no hosts in the inventory' : reasonsOf(metrics.filters);
        unplaced.push({
          app: c.app,
          service: c.service,
          instance: c.instance,
          reason: `no host fits ${c.instance}: ${why}${notes.length ? `; provisioning: ${notes.join('; ')}` : ''}`,
          metrics,
        });
        continue;
      }
      scratch.work[0] = placedOn;
      top = scoreCandidates(chain, ctx, 1, scratch);
    }

    metrics.topScores = top.map((t) => ({ host: state.ids[t.host], score: t.score }));
    if (opts.explain) explainTop(chain, ctx, top, metrics.topScores);
    const h = top[0].host;
    state.account(h, c, true);
    changed.push(h);
    placements.push({
      app: c.app,
      service: c.service,
      instance: c.instance,
      host: state.ids[h],
      score: top[0].score,
      metrics,
    });
  }
  return { placements, unplaced, provision: [...provisioning.plans.values()] };
}

/** Each applying scorer's own score of the top hosts, recorded as their components. */
function explainTop(chain: CompiledChain, ctx: PlacementContext, top: Ranked[], scores: HostScore[]): void {
  const applied = chain.scorers.filter((ns) => ns.s.weight > 0 && (!ns.s.applies || ns.s.applies(ctx)));
  if (!applied.length) return;
  const small = Int32Array.from(top, (t) => t.host);
  const out = new Float64Array(small.length);
  for (const t of scores) t.components = {};
  for (const ns of applied) {
    runScorer(ns, ctx, small, small.length, out);
    for (let j = 0; j < small.length; j++) (scores[j].components as Record<string, number>)[ns.name] = out[j];
  }
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
