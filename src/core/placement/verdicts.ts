/**
 * Kept verdicts: for one kind of container (one compiled chain and one demand), which filter removed
 * each host and what each remaining host scored, kept between placements. A placement changes the
 * counters of one host only, so when every strategy of the chain is host-local (its verdict on a host
 * reads that host's counters, labels and id and the container's demand, nothing else), the next
 * container of the same kind needs only the hosts that changed since it last looked: the engine keeps
 * a log of changed hosts, and each kind re-judges the log's new entries. The best hosts come from
 * blocks of 32 scores: each block knows its best host, a re-judged host that beats it becomes it,
 * and only a best host getting worse makes its block stale, to be scanned once before the next
 * query; the three best hosts lie in the three best blocks (ties to the lowest index, as the full
 * scan breaks them). Scanning a block's slots side by side costs less than mending a tree's path for
 * each re-judged host: most hosts' paths share few nodes, and each step reads memory far from the
 * last.
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
  total = new Float64Array(0);
  tmp = new Float64Array(0);
  /** The three best candidates of a full scan. */
  readonly top = new Top3();

  ensure(n: number): void {
    if (this.work.length >= n) return;
    const k = Math.max(16, n * 2);
    this.work = new Int32Array(k);
    this.before = new Int32Array(k);
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

/** Hosts per block of scores: a block's best is found by one scan of its slots, side by side. */
const BLOCK_BITS = 5;
const BLOCK = 1 << BLOCK_BITS;

export class KeptVerdicts {
  /** Hosts judged so far (indices below this are current up to the log position `seen`). */
  private judged = 0;
  private seen = 0;
  private epoch: number;
  /** Per host: the ordinal (in `filters`) of the filter that removed it, or `filters.length` if none. */
  private removedBy = new Int16Array(0);
  /** The host counter version a verdict was made at (0: never). */
  private stamp = new Int32Array(0);
  /** Per host: its score, or -Infinity when a filter removed it (scores are finite). */
  private score = new Float64Array(0);
  /** Per block of BLOCK hosts: its best host (-1 for none) and that host's score. */
  private blockBest = new Int32Array(0);
  private blockScore = new Float64Array(0);
  /** Blocks whose best host got worse (or that start afresh), scanned again before the next `best()`. */
  private stale = new Uint8Array(0);
  private staleList = new Int32Array(0);
  private staleCount = 0;
  /** Work of `best()`: the three best blocks, then the three best hosts in them. */
  private readonly topBlocks = new Top3();
  private readonly topHosts = new Top3();
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
    if (last && this.sameCounts(last)) return last;
    return (this.lastCounts = this.filters.map((nf, i) => filterCount(nf, this.removed[i], ctx)));
  }

  private sameCounts(last: FilterCount[]): boolean {
    for (let i = 0; i < last.length; i++) if (last[i].excluded !== this.removed[i]) return false;
    return true;
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
      this.score.fill(-Infinity);
      for (let b = 0; b < this.blockBest.length; b++) this.markStale(b);
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
    for (let h = this.judged; h < state.n; h++) {
      this.stamp[h] = version[h];
      work[m++] = h;
    }
    this.seen = changed.length;
    this.judged = state.n;
    if (m > 0) this.judge(ctx, m, scratch);
  }

  /**
   * Up to three best hosts, best first (ties to the lowest index). They lie in the three best
   * blocks: a block holding one of them has a best at least as good.
   */
  best(): Ranked[] {
    this.refresh();
    const { blockBest, blockScore, topBlocks, topHosts } = this;
    topBlocks.reset();
    for (let b = 0; b < blockBest.length; b++) if (blockBest[b] >= 0) topBlocks.offer(b, blockScore[b]);
    // The blocks in ascending order, so that a tie between hosts keeps the lower index.
    let [x, y, z] = [topBlocks.i0, topBlocks.i1, topBlocks.i2];
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    topHosts.reset();
    for (const b of [x, y, z]) if (b >= 0) this.offerBlock(b, topHosts);
    return topHosts.ranked();
  }

  private offerBlock(b: number, top: Top3): void {
    const { score } = this;
    const end = Math.min((b + 1) << BLOCK_BITS, this.judged);
    for (let h = b << BLOCK_BITS; h < end; h++) if (score[h] !== -Infinity) top.offer(h, score[h]);
  }

  /** Filters then scores `work[0..m)`, recording each host's verdict, its counts and its score. */
  private judge(ctx: PlacementContext, m: number, scratch: Scratch): void {
    const { work, before, total, tmp } = scratch;
    const { removedBy, filters, removed } = this;
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
          this.setScore(h, -Infinity);
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
      this.setScore(h, this.scorers.length ? total[i] * inv : 0);
    }
  }

  /**
   * Records a host's new score and keeps its block's best when it can without a scan: a host that
   * beats the best becomes it; only the best itself getting worse (or removed) leaves the block
   * stale. So a block is scanned again only when its best host changed for the worse.
   */
  private setScore(h: number, s: number): void {
    this.score[h] = s;
    const b = h >> BLOCK_BITS;
    if (this.stale[b]) return;
    const best = this.blockBest[b];
    const top = this.blockScore[b];
    if (best === h) {
      if (s < top || s === -Infinity) this.markStale(b);
      else this.blockScore[b] = s;
    } else if (s !== -Infinity && (best < 0 || s > top || (s === top && h < best))) {
      this.blockBest[b] = h;
      this.blockScore[b] = s;
    }
  }

  private markStale(b: number): void {
    if (this.stale[b]) return;
    this.stale[b] = 1;
    this.staleList[this.staleCount++] = b;
  }

  /** Finds the best host of every stale block: the first of the highest score, so ties go low. */
  private refresh(): void {
    const { score, blockBest, blockScore, stale, staleList } = this;
    for (let i = 0; i < this.staleCount; i++) {
      const b = staleList[i];
      stale[b] = 0;
      let best = -1;
      let top = -Infinity;
      const end = Math.min((b + 1) << BLOCK_BITS, this.judged);
      for (let h = b << BLOCK_BITS; h < end; h++) {
        if (score[h] > top) {
          top = score[h];
          best = h;
        }
      }
      blockBest[b] = best;
      blockScore[b] = top;
    }
    this.staleCount = 0;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.score.length) return;
    // Room to grow (provisioning adds hosts), in whole blocks.
    const size = Math.ceil((n * 2) / BLOCK) * BLOCK;
    const blocks = size >> BLOCK_BITS;
    const grow = <T extends Int16Array | Int32Array | Float64Array | Uint8Array>(
      a: T,
      k: number,
      make: (k: number) => T,
    ): T => {
      const b = make(k);
      b.set(a);
      return b;
    };
    this.removedBy = grow(this.removedBy, size, (k) => new Int16Array(k));
    this.stamp = grow(this.stamp, size, (k) => new Int32Array(k));
    const score = new Float64Array(size).fill(-Infinity);
    score.set(this.score);
    this.score = score;
    this.blockBest = grow(this.blockBest, blocks, (k) => new Int32Array(k).fill(-1));
    this.blockScore = grow(this.blockScore, blocks, (k) => new Float64Array(k).fill(-Infinity));
    this.stale = grow(this.stale, blocks, (k) => new Uint8Array(k));
    this.staleList = grow(this.staleList, blocks, (k) => new Int32Array(k));
  }
}

/** The three best of the items offered in ascending index order: a tie keeps the earlier (lower). */
export class Top3 {
  i0 = -1;
  i1 = -1;
  i2 = -1;
  private s0 = -Infinity;
  private s1 = -Infinity;
  private s2 = -Infinity;

  reset(): void {
    this.i0 = this.i1 = this.i2 = -1;
    this.s0 = this.s1 = this.s2 = -Infinity;
  }

  offer(i: number, s: number): void {
    if (this.i0 < 0 || s > this.s0) {
      this.i2 = this.i1;
      this.s2 = this.s1;
      this.i1 = this.i0;
      this.s1 = this.s0;
      this.i0 = i;
      this.s0 = s;
    } else if (this.i1 < 0 || s > this.s1) {
      this.i2 = this.i1;
      this.s2 = this.s1;
      this.i1 = i;
      this.s1 = s;
    } else if (this.i2 < 0 || s > this.s2) {
      this.i2 = i;
      this.s2 = s;
    }
  }

  ranked(): Ranked[] {
    const out: Ranked[] = [];
    if (this.i0 >= 0) out.push({ host: this.i0, score: this.s0 });
    if (this.i1 >= 0) out.push({ host: this.i1, score: this.s1 });
    if (this.i2 >= 0) out.push({ host: this.i2, score: this.s2 });
    return out;
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
