import { readFileSync } from 'node:fs';

// CPU seconds a process used so far (user + system), from /proc: a measure the
// other tenants of a shared machine disturb far less than wall-clock time.
export function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

// CPU seconds this process used so far (user + system).
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
