/**
 * The placement engine's vocabulary: demand (containers to place), supply (hosts), and the result.
 * Pure data; see engine.ts for the pipeline and strategies.ts for the built-in strategies.
 */

/** A placement strategy entry, by registered name, with its configuration. */
export interface StrategyConfig {
  name: string;
  config: Record<string, unknown>;
}

/** An affinity (or, negated, anti-affinity) rule of a service. */
export interface AffinityRule {
  /** `true` for anti-affinity (`NOT ...` in Clocker's string form). */
  negate: boolean;
  /** What the rule matches against. */
  target: 'service' | 'app' | 'hostLabel' | 'image' | 'empty';
  value?: string;
  /** Hard rules filter; soft rules only weigh the score. */
  hard: boolean;
  weight: number;
}

/** A container that already runs on a host (or is reserved there): it counts as load. */
export interface HostContainer {
  app: string;
  service: string;
  image?: string;
  /** Requested CPUs (cores); 0 when unknown. */
  cpus?: number;
  /** Requested memory in bytes; 0 when unknown. */
  memoryBytes?: number;
}

/** The supply side: one Docker host as the inventory knows it. */
export interface HostSupply {
  id: string;
  /** Capacity in CPU cores. */
  cpus: number;
  /** Capacity in bytes. */
  memoryBytes: number;
  labels: Record<string, string>;
  /** Containers already running there. */
  containers: HostContainer[];
  /** Reservations made by other in-flight operations (reserve/unreserve); they count like containers. */
  reservations?: HostContainer[];
  /** Observed CPU load, 0..1 (fraction of all cores busy). */
  cpuUsage?: number;
  /** The provisioning profile the host was made from, when known. */
  profile?: string;
}

/** The demand side: one container (one instance of a service) to place. */
export interface ContainerDemand {
  app: string;
  service: string;
  /** `<service>-<n>`, see `instanceName`. */
  instance: string;
  image?: string;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
  /** Affinity / anti-affinity rules of the service (enforced even if the chain has no `affinity`). */
  affinity: AffinityRule[];
  /** The strategy chain for this container (share one array per service: chains are compiled once). */
  strategies: StrategyConfig[];
  /** Where the chain came from, for error messages, e.g. `bp.yaml:4:5: service 'web'`. */
  where?: string;
  /**
   * The host holding this instance's named volumes: it may be placed there only (the `volumeHost`
   * filter, always applied when this is set), never recreated empty elsewhere.
   */
  volumeHost?: { host: string; volumes: string[] };
}

/** A host a provisioning strategy would add. */
export interface HostProfile {
  name: string;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
}

export interface FilterCount {
  strategy: string;
  /** Hosts this filter removed (of those that passed the filters before it). */
  excluded: number;
  /** e.g. `memory exhausted on 2 hosts`. */
  reason: string;
}

export interface HostScore {
  host: string;
  score: number;
  /** Per-scorer normalised scores (only with `explain`). */
  components?: Record<string, number>;
}

/** Recorded while the pipeline runs (Nomad's AllocMetric): the explanation is a by-product. */
export interface PlacementMetrics {
  evaluated: number;
  filters: FilterCount[];
  /** Up to three best hosts, best first. */
  topScores: HostScore[];
  /** Set when the host was added by a provisioning strategy for this container. */
  provisioned?: string;
  /** Why provisioning could not help, when it was tried and failed. */
  provisioning?: string;
}

export interface Placement {
  app: string;
  service: string;
  instance: string;
  host: string;
  /** Final combined score in [-1, 1] (weighted mean of the chain's scorers; 0 without scorers). */
  score: number;
  metrics: PlacementMetrics;
}

export interface Unplaced {
  app: string;
  service: string;
  instance: string;
  /** One sentence, e.g. `no host fits web-3: maxContainers excluded 4 hosts, memory exhausted on 2 hosts`. */
  reason: string;
  metrics: PlacementMetrics;
}

export interface ProvisionPlan {
  profile: string;
  count: number;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
  hosts: string[];
}

export interface PlacementResult {
  placements: Placement[];
  unplaced: Unplaced[];
  provision: ProvisionPlan[];
}

export interface PlacementRequest {
  containers: ContainerDemand[];
  hosts: HostSupply[];
}

export interface PlaceOptions {
  /** Record per-scorer components for the top hosts (costs a little; off for the benchmark). */
  explain?: boolean;
  /**
   * Judge every host for every container, even where the chain's verdicts could be kept between
   * placements: the reference the kept-verdict path is tested against. Same results, slower.
   */
  fullScan?: boolean;
}
