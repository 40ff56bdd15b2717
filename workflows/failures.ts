import { ApplicationFailure } from '@temporalio/workflow';
import { UserError } from '../src/core/errors';

/**
 * The pure core throws UserError for bad input; inside a workflow that must become a
 * non-retryable ApplicationFailure (a plain Error would only fail the workflow task, forever).
 */
export function asUserFailure<T>(fn: () => T, prefix = ''): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UserError)
      throw ApplicationFailure.nonRetryable(prefix + err.message, err.name, err.problems);
    throw err;
  }
}
