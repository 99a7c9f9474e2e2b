import os from 'node:os';
import { MultiBar } from 'cli-progress';
import type { AppContext } from '../context.ts';
import { accrualStatus, fundBookOf, nextDayToAccrue } from '../fund/service.ts';
import { accrueThrough } from '../income/accrual.ts';
import { sendLogsTo } from '../log.ts';

/**
 * `accrue`: accrues in this process (alongside any running workers: the work is shared
 * safely) every due day through `through`, with a bar on stderr that counts days. A log
 * line written while the bar is drawn is printed above it (cli-progress's MultiBar.log), so
 * neither breaks the other; the bar goes on in a log file too, a line every 2 s.
 */
export async function accrueWithProgress(ctx: AppContext, fundCode: string, through: string) {
  const first = await nextDayToAccrue(ctx, await fundBookOf(ctx, fundCode));
  const dayCount = first === null || first > through ? 0 : ctx.calendar.daysBetween(first, through) + 1;
  const bars = new MultiBar({ format: 'accrue {fund} {date} [{bar}] {value}/{total} days, {eta}s left', stream: process.stderr, noTTYOutput: true });
  const bar = bars.create(dayCount, 0, { fund: fundCode, date: first ?? '-' });
  const logSink = sendLogsTo({ write: (line: string) => bars.log(line) });
  // Ctrl-C: the bar turned the terminal's line wrapping off, so give it back before going.
  // Stopping mid-day is safe: the next run (or a worker) resumes from the checkpoints.
  const interrupted = (signal: NodeJS.Signals) => {
    bars.stop();
    process.exit(128 + os.constants.signals[signal]);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const accrued = await accrueThrough(ctx, fundCode, through, (progress) => {
      // The count (and so the ETA) moves when a day's last partition is done, by this process or a worker.
      if (progress.partitionsDone < progress.partitionCount) bar.update({ date: progress.date });
      else bar.update(ctx.calendar.daysBetween(first!, progress.date) + 1, { date: progress.date });
    });
    const status = await accrualStatus(ctx, fundCode);
    // Where accrual stands now: a day not yet over, or not published, stops it short of `through`.
    const last = status.lastAccruedDate;
    if (first !== null && last !== null && last >= first) bar.update(ctx.calendar.daysBetween(first, last) + 1);
    return { accrued, status };
  } finally {
    bars.update(); // prints the log lines still waiting for the next redraw
    bars.stop();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    sendLogsTo(logSink);
  }
}
