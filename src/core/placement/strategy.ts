/**
 * The strategy interfaces (Nomad's feasibility checkers and rank iterators, Kubernetes' Filter and
 * Score plugins). A strategy is a small object made by a factory from its configuration; it may
 * contribute a filter (a predicate that removes hosts), a scorer (an ordering, as a normalised
 * score) and/or a provisioning profile (hosts to add when nothing fits).
 */
import type { ConfigReader } from './config';
import type { ClusterState } from './state';
import type { ContainerDemand, HostProfile } from './types';

/** What a strategy sees while one container is being placed. */
export interface PlacementContext {
  readonly state: ClusterState;
  readonly container: ContainerDemand;
  /** `groupKey('service', app, service)`: index `state.group(serviceKey)[host]` for a count. */
  readonly serviceKey: string;
  /** `groupKey('app', app, app)`. */
  readonly appKey: string;
}

/**
 * A predicate over hosts. Implement `accepts` (simple, one call per host) or `filter` (batch: keep
 * the accepted indices of `candidates[0..n)` in order, compacted to the front, return how many).
 */
export interface Filter {
  /**
   * The explanation phrase for `excluded` hosts, e.g. `memory exhausted on 2 hosts`. With kept
   * verdicts it is reused for the next container of the kind while the count stays the same, so
   * it should read the demand, not the instance name (`volumeHost`'s pinned instances are kinds of
   * their own).
   */
  explain?(excluded: number, ctx: PlacementContext): string;
  /** Return false to skip this filter for this container (it is then not reported). */
  applies?(ctx: PlacementContext): boolean;
  accepts?(host: number, ctx: PlacementContext): boolean;
  /** See `Scorer.hostLocal`. */
  hostLocal?: boolean;
  filter?(ctx: PlacementContext, candidates: Int32Array, n: number): number;
}

/**
 * An ordering over hosts, as a score normalised to [-1, 1] (higher is better). Implement `score`
 * (one call per host) or `scoreAll` (batch: write `out[i]` for `candidates[i]`, i < n).
 * Scores of a chain are combined as a weighted mean: `Σ weightᵢ·scoreᵢ / Σ weightᵢ`.
 */
export interface Scorer {
  /** Weight in the chain's mean (default 1, from the strategy's `weight` key). */
  weight: number;
  /** Return false to leave this scorer (and its weight) out of the mean for this container. */
  applies?(ctx: PlacementContext): boolean;
  score?(host: number, ctx: PlacementContext): number;
  scoreAll?(ctx: PlacementContext, candidates: Int32Array, n: number, out: Float64Array): void;
  /**
   * A promise that the verdict on a host reads only that host (its counters, labels and id) and the
   * container's demand other than its instance name: not the other candidates, not the instance.
   * When every filter and scorer of a chain promises it, the engine keeps verdicts between
   * placements and re-judges only the hosts that changed (see verdicts.ts). The built-ins promise it.
   */
  hostLocal?: boolean;
}

/** A chain's filter or scorer under its strategy's name (for explanations). */
export interface NamedFilter {
  name: string;
  f: Filter;
}
export interface NamedScorer {
  name: string;
  s: Scorer;
}

/** When every host is filtered out: add a host of this profile (if the limits allow), then place. */
export interface Provisioner {
  profile: HostProfile;
  /** At most this many hosts of this profile are added in one run. */
  maxNewHosts: number;
  /** Optional cap on the whole pool (existing + new hosts). */
  maxHosts?: number;
  /** New hosts are named `<idPrefix>-<k>`, k from 1, skipping ids in use. */
  idPrefix: string;
}

export interface Strategy {
  /** The registry name (set by the engine). */
  name: string;
  filter?: Filter;
  scorer?: Scorer;
  provisioning?: Provisioner;
}

/**
 * Makes a strategy from its configuration. Read keys through `config` (typed, validated, with
 * located one-line errors) and call `config.done()` to reject unknown keys.
 */
export type StrategyFactory = (config: ConfigReader) => Omit<Strategy, 'name'>;

export function hosts(n: number): string {
  return `${n} host${n === 1 ? '' : 's'}`;
}
