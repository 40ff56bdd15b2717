/**
 * Kept verdicts: for one kind of container (one compiled chain and one demand), which filter removed
 * each host and what each remaining host scored, kept between placements. A placement changes the
 * counters of one host only, so when every strategy of the chain is host-local (its verdict on a host
 * reads that host's counters, labels and id and the container's demand, nothing else), the next
 * container of the same kind needs only the hosts that changed since it last looked: the engine keeps
 * a log of changed hosts, and each kind re-judges the log's new entries. The best hosts come from a
 * tournament tree over the scores (ties to the lowest index, as the full scan breaks them).
 *
 * The arithmetic is the full scan's, term by term (`Σ wᵢ·sᵢ` in chain order, times `1 / Σ wᵢ`), so
 * both paths give the same placements, scores and explanations; a unit test compares them on random
 * pools. The inventory workflow places through this engine, so equal results keep its replays valid.
 */
import type { ClusterState } from './state';
import { type NamedFilter, type NamedScorer, type PlacementContext, hosts } from './strategy';
import type { FilterCount } from './types';

/** One of the best hosts: its index and final score. */
export interface Ranked {
  host: number;
  score: number;
}

/**
 * Work arrays of one run, grown with the pool: the hosts being judged (a full scan's candidates, or
 * a kind's changed hosts) and their scores. One container is judged at a time, so one set serves all.
 */
export class Scratch {
  work = new Int32Array(0);
  before = new Int32Array(0);
  /** A kind's re-judged hosts, kept for mending its tree (the filters reorder `work`). */
  judged = new Int32Array(0);
  total = new Float64Array(0);
  tmp = new Float64Array(0);

  ensure(n: number): void {
    if (this.work.length >= n) return;
    const k = Math.max(16, n * 2);
    this.work = new Int32Array(k);
    this.before = new Int32Array(k);
    this.judged = new Int32Array(k);
    this.total = new Float64Array(k);
    this.tmp = new Float64Array(k);
  }
}

/** What one filter removed, with its explanation, as a placement's metrics record it. */
export function filterCount(nf: NamedFilter, excluded: number, ctx: PlacementContext): FilterCount {
  return {
    strategy: nf.name,
    excluded,
    reason: nf.f.explain ? nf.f.explain(excluded, ctx) : `${nf.name} excluded ${hosts(excluded)}`,
  };
}

export class KeptVerdicts {
  /** Hosts judged so far (indices below this are current up to the log position `seen`). */
  private judged = 0;
  private seen = 0;
  private epoch: number;
  /** Per host: the ordinal (in `filters`) of the filter that removed it, or `filters.length` if none. */
  private removedBy = new Int16Array(0);
  private score = new Float64Array(0);
  /** The host counter version a verdict was made at (0: never). */
  private stamp = new Int32Array(0);
  /** A tournament tree: node → best host below it, -1 for none; leaves at `leaves + host`. */
  private tree = new Int32Array(0);
  private leaves = 0;
  /** Per tree node: the last `mend` that recomputed it. */
  private mark = new Int32Array(0);
  private generation = 0;
  /** Hosts removed by each filter; the last slot counts the hosts that passed every filter. */
  private readonly removed: Int32Array;
  /** The last counts handed out: shared by placements while the counts stay the same. */
  private lastCounts: FilterCount[] | undefined;
  private readonly inv: number;

  constructor(
    private readonly state: ClusterState,
    /** The chain's filters that apply to this kind, in chain order. */
    private readonly filters: readonly NamedFilter[],
    /** The chain's scorers that apply (weight > 0), in chain order. */
    private readonly scorers: readonly NamedScorer[],
  ) {
    this.epoch = state.epoch;
    this.removed = new Int32Array(filters.length + 1);
    let weights = 0;
    for (const ns of scorers) weights += ns.s.weight;
    this.inv = weights > 0 ? 1 / weights : 0;
  }

  /** Hosts that passed every filter. */
  get passing(): number {
    return this.removed[this.filters.length];
  }

  /** What each applying filter removed, in chain order (as a full scan reports it). */
  counts(ctx: PlacementContext): FilterCount[] {
    const last = this.lastCounts;
    if (last && last.every((fc, i) => fc.excluded === this.removed[i])) return last;
    return (this.lastCounts = this.filters.map((nf, i) => filterCount(nf, this.removed[i], ctx)));
  }

  /** Re-judges the hosts added or changed since the last call (`changed`: the run's log of hosts). */
  sync(ctx: PlacementContext, changed: readonly number[], scratch: Scratch): void {
    const { state } = this;
    if (state.epoch !== this.epoch) {
      // A host was removed (an undone provisioning): indices may now mean other hosts.
      this.epoch = state.epoch;
      this.judged = 0;
      this.removed.fill(0);
      this.stamp.fill(0);
      this.tree.fill(-1);
    }
    this.ensureCapacity(state.n);
    scratch.ensure(state.n);
    const { version } = state;
    const { work } = scratch;
    let m = 0;
    for (let i = this.seen; i < changed.length; i++) {
      const h = changed[i];
      if (h < this.judged && this.stamp[h] !== version[h]) {
        this.stamp[h] = version[h];
        this.removed[this.removedBy[h]]--;
        work[m++] = h;
      }
    }
    const fresh = state.n - this.judged;
    for (let h = this.judged; h < state.n; h++) {
      this.stamp[h] = version[h];
      work[m++] = h;
    }
    this.seen = changed.length;
    this.judged = state.n;
    if (m === 0) return;
    // Many new leaves (the first look): rebuild the tree once rather than walk each leaf's path.
    const bulk = fresh > this.leaves / 8;
    this.judge(ctx, m, scratch, bulk);
    if (bulk) this.rebuildTree();
  }

  /** Up to three best hosts, best first (ties to the lowest index). */
  best(): Ranked[] {
    const out: Ranked[] = [];
    for (let k = 0; k < 3; k++) {
      const h = this.tree[1];
      if (h < 0) break;
      out.push({ host: h, score: this.score[h] });
      this.setLeaf(h, -1);
    }
    for (const r of out) this.setLeaf(r.host, r.host);
    return out;
  }

  /** Filters then scores `work[0..m)`, recording each host's verdict, its counts and its leaf. */
  private judge(ctx: PlacementContext, m: number, scratch: Scratch, bulk: boolean): void {
    const { work, before, total, tmp } = scratch;
    const { removedBy, filters, removed, tree, leaves, score } = this;
    // Every judged host's leaf is rewritten here; the tree above them is mended once at the end.
    const { judged } = scratch;
    if (!bulk) for (let i = 0; i < m; i++) judged[i] = work[i];
    let n = m;
    for (let f = 0; f < filters.length && n > 0; f++) {
      for (let i = 0; i < n; i++) before[i] = work[i];
      const kept = runFilter(filters[f], ctx, work, n);
      if (kept === n) continue;
      // Filters keep the survivors in order, so the removed ones are the gaps in a merge.
      for (let i = 0, j = 0; i < n; i++) {
        const h = before[i];
        if (j < kept && work[j] === h) j++;
        else {
          removedBy[h] = f;
          removed[f]++;
          tree[leaves + h] = -1;
        }
      }
      n = kept;
    }
    const pass = filters.length;
    const { inv } = this;
    if (this.scorers.length) {
      total.fill(0, 0, n);
      for (const ns of this.scorers) {
        runScorer(ns, ctx, work, n, tmp);
        const w = ns.s.weight;
        for (let i = 0; i < n; i++) total[i] += w * tmp[i];
      }
    }
    for (let i = 0; i < n; i++) {
      const h = work[i];
      removedBy[h] = pass;
      removed[pass]++;
      score[h] = this.scorers.length ? total[i] * inv : 0;
      tree[leaves + h] = h;
    }
    if (!bulk) this.mend(judged, m);
  }

  /** Recomputes the tree nodes above the leaves `level[0..n)`, level by level, each node once. */
  private mend(level: Int32Array, n: number): void {
    const t = this.tree;
    const mark = this.mark;
    const gen = ++this.generation;
    for (let i = 0; i < n; i++) level[i] = (this.leaves + level[i]) >> 1;
    while (n > 0) {
      let k = 0;
      for (let i = 0; i < n; i++) {
        const p = level[i];
        if (mark[p] === gen) continue;
        mark[p] = gen;
        t[p] = this.better(t[2 * p], t[2 * p + 1]);
        if (p > 1) level[k++] = p >> 1;
      }
      n = k;
    }
  }

  private better(a: number, b: number): number {
    if (a < 0) return b;
    if (b < 0) return a;
    const sa = this.score[a];
    const sb = this.score[b];
    return sa > sb || (sa === sb && a < b) ? a : b;
  }

  private setLeaf(h: number, value: number): void {
    const t = this.tree;
    let i = this.leaves + h;
    t[i] = value;
    for (i >>= 1; i >= 1; i >>= 1) t[i] = this.better(t[2 * i], t[2 * i + 1]);
  }

  private rebuildTree(): void {
    const t = this.tree;
    for (let i = this.leaves - 1; i >= 1; i--) t[i] = this.better(t[2 * i], t[2 * i + 1]);
  }

  private ensureCapacity(n: number): void {
    if (n <= this.leaves) return;
    let leaves = 1;
    while (leaves < n) leaves *= 2;
    const grow = <T extends Int16Array | Int32Array | Float64Array>(a: T, make: (k: number) => T): T => {
      const b = make(leaves);
      b.set(a.subarray(0, Math.min(a.length, leaves)));
      return b;
    };
    this.removedBy = grow(this.removedBy, (k) => new Int16Array(k));
    this.score = grow(this.score, (k) => new Float64Array(k));
    this.stamp = grow(this.stamp, (k) => new Int32Array(k));
    // The tree at the new width, from the leaves of the judged hosts.
    this.tree = new Int32Array(2 * leaves).fill(-1);
    this.mark = new Int32Array(leaves);
    this.generation = 0;
    this.leaves = leaves;
    for (let h = 0; h < this.judged; h++)
      if (this.removedBy[h] === this.filters.length) this.tree[leaves + h] = h;
    this.rebuildTree();
  }
}

export function runFilter(nf: NamedFilter, ctx: PlacementContext, cand: Int32Array, n: number): number {
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

export function runScorer(
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
