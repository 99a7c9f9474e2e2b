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
  try {
    const accrued = await accrueThrough(ctx, fundCode, through, (progress) => {
      // A day counts once its last partition is done (by this process or a worker).
      const daysDone = ctx.calendar.daysBetween(first!, progress.date) + (progress.partitionsDone === progress.partitionCount ? 1 : 0);
      bar.update(daysDone, { date: progress.date });
    });
    bar.update(dayCount);
    return { accrued, status: await accrualStatus(ctx, fundCode) };
  } finally {
    bars.update(); // prints the log lines still waiting for the next redraw
    bars.stop();
    sendLogsTo(logSink);
  }
}
