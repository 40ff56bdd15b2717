import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/**
 * Every activity heartbeats while it runs (every `periodMs`, repeating its own latest details, so an
 * activity that resumes from them loses nothing), and the workflows give theirs a short heartbeat
 * timeout. When a worker dies (a crash, a kill -9, its machine), the server then retries its
 * activities after that timeout, seconds, instead of after their start-to-close timeout, which has
 * to allow for the slowest Docker call. The heartbeat says that the worker is alive, not that the
 * call makes progress: start-to-close still bounds a call that hangs.
 */
export function livenessHeartbeats(periodMs = 2_000): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const own = ctx.heartbeat;
        let latest: unknown;
        // The activity's own heartbeats go through as before; the timer repeats the latest.
        Object.defineProperty(ctx, 'heartbeat', {
          configurable: true,
          writable: true,
          value: (details?: unknown) => {
            latest = details;
            own(details);
          },
        });
        const timer = setInterval(() => own(latest), periodMs);
        try {
          return await next(input);
        } finally {
          clearInterval(timer);
        }
      },
    },
  });
}
