/**
 * Dependency ordering: services sorted so each comes after the services it depends on, keeping the
 * blueprint's order where dependencies allow (depth-first, in declaration order). Cycles are named.
 */

export interface Edge<N> {
  to: string;
  /** Where the dependency is written, for the cycle message's position. */
  at: N;
}

export interface Cycle<N> {
  /** `['web', 'api', 'web']`: starts and ends with the same service. */
  path: string[];
  /** The edge that closes the cycle. */
  at: N;
}

export function orderByDependencies<N>(
  ids: string[],
  edges: Map<string, Edge<N>[]>,
): { order: string[]; cycles: Cycle<N>[] } {
  const state = new Map<string, 'visiting' | 'done'>();
  const order: string[] = [];
  const cycles: Cycle<N>[] = [];
  const seen = new Set<string>();
  const stack: string[] = [];
  const known = new Set(ids);

  const visit = (id: string): void => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const edge of edges.get(id) ?? []) {
      const s = state.get(edge.to);
      if (s === undefined && known.has(edge.to)) visit(edge.to);
      else if (s === 'visiting') {
        const path = [...stack.slice(stack.indexOf(edge.to)), edge.to];
        const key = [...path.slice(1)].sort().join(',');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push({ path, at: edge.at });
        }
      }
    }
    stack.pop();
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of ids) if (!state.has(id)) visit(id);
  return { order, cycles };
}
