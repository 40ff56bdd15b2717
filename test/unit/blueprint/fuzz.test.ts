/**
 * Seeded fuzzing of `berth validate`, in-process: every mutant goes through `validateFile`, the
 * function the CLI runs for each file (its output lines included); `test/e2e/validate-fuzz.test.ts`
 * runs a sample of the same mutants through the compiled binary.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { validateFile } from '../../../src/cli/commands/validate';
import { FUZZ_SEED, judge, mutants, OPERATOR_NAMES } from '../../support/mutants';

const COUNT = 400;

describe('fuzzing berth validate', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fuzz-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test(`seed ${FUZZ_SEED}, ${COUNT} mutants: each is accepted or rejected with FILE:LINE:COL problems, never a crash`, () => {
    const all = mutants(FUZZ_SEED, COUNT);
    const failures: string[] = [];
    let rejected = 0;
    all.forEach((m, i) => {
      const file = path.join(dir, `m${String(i).padStart(3, '0')}.yaml`);
      fs.writeFileSync(file, m.content);
      const out: string[] = [];
      const err: string[] = [];
      let code: boolean | 'crash';
      try {
        code = validateFile(file, { out: (l) => out.push(l), err: (l) => err.push(l) });
      } catch (e) {
        code = 'crash';
        err.push(String((e as Error)?.stack ?? e));
      }
      if (code === false) rejected++;
      const failure = judge(file, code, out, err);
      if (failure) failures.push(`${m.name} (${path.basename(file)}): ${failure.slice(0, 500)}`);
    });
    expect(failures).toEqual([]);
    // The mutants are not all trivially fine or all broken: both outcomes are exercised.
    expect(rejected).toBeGreaterThan(COUNT / 2);
    expect(rejected).toBeLessThan(COUNT);
    expect(new Set(all.map((m) => m.name.split(': ')[1].split('+')[0]))).toEqual(new Set(OPERATOR_NAMES));
  });

  test('the judge itself catches what it must (a crash, an unlocated line, a stack)', () => {
    const f = '/tmp/x.yaml';
    expect(judge(f, 'crash', [], ['TypeError: boom'])).toMatch(/^crashed/);
    expect(judge(f, false, [], ['error: something'])).toMatch(/^unlocated/);
    expect(judge(f, false, [], [`${f}:1:1: bad`, '    at parse (x.js:1:1)'])).toMatch(/stack/);
    expect(judge(f, false, [], [])).toMatch(/without problems/);
    expect(judge(f, false, [], [`${f}:3:7: bad`])).toBeUndefined();
    expect(judge(f, true, [`${f}: ok (2 services)`], [])).toBeUndefined();
  });
});
