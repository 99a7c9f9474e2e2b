import type { BankAdapter } from './bank/adapter.ts';
import { SimulatedBank } from './bank/simulatedBank.ts';
import type { Logger } from 'pino';
import { offsetClock, type Clock } from './calendar/clock.ts';
import { holidayScheduleOf } from './calendar/holidaySchedule.ts';
import { TradingCalendar } from './calendar/tradingCalendar.ts';
import { appConfig, type AppConfig } from './config/config.ts';
import { NO_FAULTS, type FaultPoints } from './faults.ts';
import { log } from './log.ts';
import { Readiness } from './observability/readiness.ts';

export type { FaultPoints };

/** What services need from the outside world, injected so tests can move time and break the bank. */
export interface AppContext {
  config: AppConfig;
  clock: Clock;
  calendar: TradingCalendar;
  bank: BankAdapter;
  /** Points where tests stop an operation between two steps; a no-op in production. */
  faults: FaultPoints;
  /** What /readyz reports: the server says when the job scheduler has started and when it stops. */
  readiness: Readiness;
  /** Where this process's once-a-day warnings go (the calendar's alarm), so a test can read them. */
  log: Logger;
}


export function createContext(overrides: Partial<AppContext> = {}): AppContext {
  const config = overrides.config ?? appConfig();
  return {
    config,
    clock: overrides.clock ?? offsetClock(config.clock.offsetMs),
    calendar: overrides.calendar ?? new TradingCalendar({ ...holidayScheduleOf(config.holidays), cutoff: config.cutoff, zone: config.zone }),
    bank: overrides.bank ?? new SimulatedBank(),
    faults: overrides.faults ?? NO_FAULTS,
    readiness: overrides.readiness ?? new Readiness(),
    log: overrides.log ?? log,
  };
}
