import { UserError } from '../core/errors';
import { innermost } from '../core/failures';

/**
 * Turns any error into the one line a user sees. Known errors keep their message; Temporal's
 * wrapped failures are unwrapped to the innermost cause; stacks only with BERTH_DEBUG=1.
 */
export function describeError(err: unknown): { line: string; details: string[] } {
  if (err instanceof UserError) return { line: err.message, details: err.problems };
  // WorkflowFailedError -> ActivityFailure -> ApplicationFailure: the innermost message says what failed.
  const e: unknown = innermost(err);
  const message = e instanceof Error ? e.message : String(err);
  const details = (e as { details?: unknown[] })?.details;
  const problems = Array.isArray(details?.[0]) ? (details[0] as string[]) : [];
  return { line: message.split('\n')[0], details: problems };
}

export function reportAndExit(err: unknown): never {
  const { line, details } = describeError(err);
  if (details.length > 1) for (const d of details) console.error(d);
  else console.error(`error: ${line}`);
  if (process.env.BERTH_DEBUG && err instanceof Error) console.error(err.stack);
  process.exit(1);
}
