import * as fs from 'fs';

/** The PID a pid file names, or undefined (missing, garbage, or 0/1: never a process of ours). */
export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}
