import { parse, problems, yaml } from './helpers';

describe("a blueprint's update block and stop settings", () => {
  test('per service over the blueprint default, durations in ms, signals named SIG...', () => {
    const bp = parse(
      yaml(
        'id: app',
        'update: {parallelism: 2, order: start-first, drain: 500ms}',
        'services:',
        '  - id: web',
        '    image: x',
        '    stopSignal: INT',
        '    stopGracePeriod: 30s',
        '    update:',
        '      minReady: 5s',
        '      failureAction: pause',
        '      maxFailureRatio: 0.25',
        '      canary: 1',
        '      autoPromote: 1m',
        '  - {id: db, image: x, stop_signal: 15, stop_grace_period: 2s}',
      ),
    );
    expect(bp.update).toEqual({ parallelism: 2, order: 'start-first', drainMs: 500 });
    const [web, db] = bp.services;
    expect(web.update).toEqual({
      minReadyMs: 5000,
      failureAction: 'pause',
      maxFailureRatio: 0.25,
      canary: 1,
      autoPromoteMs: 60_000,
    });
    expect(web).toMatchObject({ stopSignal: 'SIGINT', stopGracePeriodMs: 30_000 });
    expect(db).toMatchObject({ stopSignal: '15', stopGracePeriodMs: 2000 });
  });

  test('bad values are located and explained', () => {
    expect(
      problems(
        yaml(
          'id: app',
          'update: {parallelism: 0}',
          'services:',
          '  - id: web',
          '    image: x',
          '    stopSignal: SIGFOO',
          '    update: {order: sideways, autoPromote: 1s, paralelism: 2, maxFailureRatio: 2}',
        ),
      ),
    ).toEqual([
      "2:23: key 'parallelism' in 'update' at top level must be a whole number between 1 and 1000, got the number 0",
      "6:17: key 'stopSignal' in service 'web' must be a signal such as SIGTERM, SIGINT, SIGQUIT or its number, got the string 'SIGFOO'",
      "7:21: key 'order' in 'update' in service 'web' must be one of stop-first, start-first, got the string 'sideways'",
      "7:31: key 'autoPromote' in 'update' in service 'web' needs 'canary' (1 or more)",
      "7:48: unknown key 'paralelism' in 'update' in service 'web'; did you mean 'parallelism'?",
      "7:80: key 'maxFailureRatio' in 'update' in service 'web' must be a number between 0 and 1, got the number 2",
    ]);
  });
});
