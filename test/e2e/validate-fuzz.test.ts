/**
 * A sample of the fuzz mutants (`test/unit/blueprint/fuzz.test.ts` runs them all in-process)
 * through the compiled `berth validate`, as a user runs it: within a bound (the run is killed
 * past it), exit 0 or 1, no stack, each rejection located — and the same lines, file by file,
 * as the in-process function prints. Also a Dockerfile path that leaves the blueprint's folder
 * through a symbolic link.
 */
import * as fs from 'fs';
import * as path from 'path';
import { validateFile } from '../../src/cli/commands/validate';
import { FUZZ_SEED, judge, mutants } from '../support/mutants';
import { expectOneLineError, runCli, tempDir } from '../support/cli';

const COUNT = 400;
const EVERY = 8;
/** The bound on one `berth validate` run of the whole sample (node starts in ~0.5 s; parsing is ms). */
const BOUND_MS = 120_000;

describe('berth validate on fuzzed blueprints, through the binary', () => {
  const dir = tempDir('validate-fuzz');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test(`seed ${FUZZ_SEED}, every ${EVERY}th of ${COUNT} mutants: exit 0 or 1 within ${BOUND_MS / 1000} s, located problems, the same lines as in-process`, async () => {
    const files = mutants(FUZZ_SEED, COUNT)
      .filter((_, i) => i % EVERY === 0)
      .map((m, i) => {
        const file = path.join(dir, `s${String(i).padStart(2, '0')}.yaml`);
        fs.writeFileSync(file, m.content);
        return { file, name: m.name };
      });
    const run = await runCli(['validate', ...files.map((f) => f.file)], {}, BOUND_MS);
    expect(run.code === 0 || run.code === 1).toBe(true);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const failures: string[] = [];
    let rejected = 0;
    for (const { file, name } of files) {
      const mine = (text: string) => text.split('\n').filter((l) => l.startsWith(`${file}:`));
      const [out, err] = [mine(run.stdout), mine(run.stderr)];
      const ok = out.length > 0;
      if (!ok) rejected++;
      const failure = judge(file, ok, out, err);
      if (failure) failures.push(`${name}: ${failure.slice(0, 300)}`);
      const inProcess = { out: [] as string[], err: [] as string[] };
      // As the binary's streams write them: UTF-8, where a lone surrogate a mutant made becomes U+FFFD.
      const written = (l: string) => Buffer.from(l, 'utf8').toString('utf8');
      validateFile(file, {
        out: (l) => inProcess.out.push(written(l)),
        err: (l) => inProcess.err.push(written(l)),
      });
      expect({ name, out, err }).toEqual({ name, ...inProcess });
    }
    expect(failures).toEqual([]);
    expect(run.code).toBe(rejected > 0 ? 1 : 0);
    expect(rejected).toBeGreaterThan(0);
  });

  test('one file at a time: exit 0 for an example, exit 1 with a located line for an alias bomb', async () => {
    const ok = await runCli(['validate', 'blueprints/hello.yaml'], {}, BOUND_MS);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    const bomb = path.join(dir, 'bomb.yaml');
    const levels = Array.from({ length: 7 }, (_, i) =>
      i === 0
        ? '      L0: &l0 {$brooklyn:formatString: ["%s%s%s%s%s%s%s%s%s", x, x, x, x, x, x, x, x, x]}'
        : `      L${i}: &l${i} {$brooklyn:formatString: ["%s%s%s%s%s%s%s%s%s", ${Array(9)
            .fill(`*l${i - 1}`)
            .join(', ')}]}`,
    );
    fs.writeFileSync(
      bomb,
      ['id: bomb', 'services:', '  - id: web', '    image: berth/busybox:1', '    env:', ...levels, ''].join(
        '\n',
      ),
    );
    const refused = await runCli(['validate', bomb], {}, BOUND_MS);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      `${bomb}:11:63: aliases expand the blueprint by more than 100000 nodes or 4 MiB (the bound against alias bombs); '*l4' here adds 88573 nodes\n`,
    );
  });

  test("a Dockerfile path may not lead out of the blueprint's folder through a symbolic link; nothing is contacted", async () => {
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(dir, 'Dockerfile.outside'), 'FROM berth/busybox:1\n');
    fs.symlinkSync(path.join(dir, 'Dockerfile.outside'), path.join(app, 'Dockerfile'));
    const file = path.join(app, 'app.yaml');
    fs.writeFileSync(file, 'id: bt-symlink\nservices:\n  - id: web\n    dockerfile: Dockerfile\n');
    // An unreachable Temporal address: the refusal must come before any connection.
    const offline = { TEMPORAL_ADDRESS: '127.0.0.1:1' };
    expectOneLineError(
      await runCli(['deploy', file], offline),
      new RegExp(
        `${file}:3:5: service 'web': Dockerfile path 'Dockerfile' leads out of the blueprint's folder through a symbolic link`,
      ),
    );
    fs.writeFileSync(file, 'id: bt-symlink\nservices:\n  - id: web\n    dockerfile: ../Dockerfile.outside\n');
    expectOneLineError(
      await runCli(['deploy', file], offline),
      /app.yaml:4:17: key 'dockerfile' in service 'web': path '..\/Dockerfile.outside' leaves the blueprint's folder/,
    );
  });
});
