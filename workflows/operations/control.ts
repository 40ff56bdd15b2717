/**
 * A rollout waiting for a person: canaries to promote or abort, or a paused failure to resume or
 * roll back. The wait is a workflow condition, so it survives worker and server restarts and costs
 * nothing while it lasts; the answers are updates with validators, so a request the operation is
 * not waiting for is refused without touching history. The UI shows why it waits (current details).
 */
import { condition, setCurrentDetails, setHandler } from '@temporalio/workflow';
import {
  abortUpdate,
  promoteUpdate,
  resumeUpdate,
  rollbackUpdate,
  type OperationProgress,
  type RolloutWait,
} from '../api/operations';
import { nowMs } from '../policies/common';

export type Answer = 'promote' | 'abort' | 'resume' | 'rollback';

/** Which answers each kind of wait takes (`rollback` of canaries removes them, as `abort` does). */
const ANSWERS: Record<RolloutWait['kind'], Answer[]> = {
  canary: ['promote', 'abort', 'rollback'],
  paused: ['resume', 'rollback'],
};

export class RolloutControl {
  private answer: Answer | undefined;

  constructor(private readonly progress: OperationProgress) {}

  /** The operation workflow registers the four updates once, at its start. */
  register(): void {
    const handle = (answer: Answer) => ({
      handler: () => this.take(answer),
      validator: () => this.check(answer),
    });
    for (const [def, answer] of [
      [promoteUpdate, 'promote'],
      [abortUpdate, 'abort'],
      [resumeUpdate, 'resume'],
      [rollbackUpdate, 'rollback'],
    ] as const) {
      const { handler, validator } = handle(answer);
      setHandler(def, handler, { validator });
    }
  }

  private check(answer: Answer): void {
    const waiting = this.progress.waiting;
    if (!waiting)
      throw new Error(`the ${this.progress.operation} of ${this.progress.app} is not waiting for anyone`);
    if (!ANSWERS[waiting.kind].includes(answer))
      throw new Error(
        `the ${this.progress.operation} of ${this.progress.app} waits for ${ANSWERS[waiting.kind].join(' or ')} (${waiting.reason}), not ${answer}`,
      );
  }

  private take(answer: Answer): string {
    this.answer = answer;
    return `${answer}: ${this.progress.waiting?.reason ?? ''}`.trim();
  }

  /**
   * Waits for an answer, or `timeoutMs` (undefined: as long as it takes). Returns the answer, or
   * undefined when the time ran out.
   */
  async wait(wait: Omit<RolloutWait, 'sinceMs'>, timeoutMs?: number): Promise<Answer | undefined> {
    this.answer = undefined;
    this.progress.waiting = { ...wait, sinceMs: nowMs() };
    this.progress.events.push(`waiting: ${wait.reason}`);
    setCurrentDetails(`Waiting: ${wait.reason}`);
    try {
      if (timeoutMs === undefined) await condition(() => this.answer !== undefined);
      else await condition(() => this.answer !== undefined, timeoutMs);
      return this.answer;
    } finally {
      this.progress.waiting = undefined;
      setCurrentDetails('');
    }
  }
}
