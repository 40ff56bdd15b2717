import type { Problem } from './model';

/**
 * Bounds on what one blueprint may ask for, so a hostile or careless file gets a located error
 * instead of exhausting memory, time or the stack. README ("Blueprint limits") lists them.
 */

/**
 * Size of the blueprint text. The parsed blueprint travels in one Temporal payload, which the
 * server refuses beyond 2 MB; real blueprints are a few kilobytes.
 */
export const MAX_BLUEPRINT_BYTES = 1024 * 1024;

/** The problem for a blueprint over MAX_BLUEPRINT_BYTES (the parser's, and the CLI's when reading). */
export function tooLargeProblem(file: string): Problem {
  return {
    file,
    line: 1,
    col: 1,
    message: `the blueprint is larger than ${MAX_BLUEPRINT_BYTES / 1024} KiB (the bound on a blueprint)`,
  };
}

/**
 * Nesting levels, counting every mapping, list and value, with aliases expanded. The deepest
 * legitimate path (a member spec's config, an env value in Brooklyn's map form, its arguments)
 * is about 12; the `yaml` library overflows the stack at about 1,000.
 */
export const MAX_DEPTH = 64;

/**
 * What aliases (`*name`) may add to the blueprint, in nodes and in bytes of scalar text. Berth
 * reads the YAML tree itself, expanding an alias each time it follows one (also inside
 * `$brooklyn:formatString` arguments), so the `yaml` library's `maxAliasCount` (a `toJS` option)
 * never applies: this is the same defence against exponential expansion ("billion laughs").
 */
export const MAX_ALIAS_NODES = 100_000;
export const MAX_ALIAS_BYTES = 4 * 1024 * 1024;

/** Services in one blueprint. */
export const MAX_SERVICES = 1000;

/**
 * Instances of one service (`replicas`/`initialSize`, `berth scale`, an autoscaler's pool size).
 * An app's default subnet (/24) holds 253 of them; a larger one needs `network:`.
 */
export const MAX_REPLICAS = 1000;
