/**
 * Human messages go to stderr when --json is set, so stdout stays machine-readable.
 */
let jsonMode = false;

export function setJsonMode(on: boolean): void {
  jsonMode = on;
}

export function info(line: string): void {
  (jsonMode ? process.stderr : process.stdout).write(`${line}\n`);
}

export function warn(line: string): void {
  process.stderr.write(`warning: ${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A plain aligned table: the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function announceStarted(op: { workflowId: string; ui?: string }, verb: string): void {
  info(`${verb}: workflow ${op.workflowId}`);
  if (op.ui) info(`  Web UI: ${op.ui}`);
}
