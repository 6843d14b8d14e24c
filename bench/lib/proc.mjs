// CPU and memory of a process from /proc (Linux): utime+stime in µs and RSS/peak RSS in KiB.
import { readFileSync } from 'node:fs';

const TICK_US = 1e6 / 100; // CLK_TCK is 100 on Linux x86_64

/** CPU time (user+system) consumed so far by `pid`, in microseconds. */
export function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime, stime (fields 14, 15)
}

/** Current and peak resident set size of `pid`, KiB. */
export function memKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k) => Number((status.match(new RegExp(`${k}:\\s+(\\d+)`)) ?? [])[1] ?? NaN);
  return { rss: get('VmRSS'), hwm: get('VmHWM') };
}
