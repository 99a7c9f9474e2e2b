/**
 * The flows the reserve planner follows: money leaving the fund through the
 * reserve (instant redemptions to the wallet, payments from the fund) and the flows around
 * it (normal redemptions, transfers-in), as totals per business date (Asia/Shanghai).
 */
export const FLOW_CHANNELS = ['instant_redemption', 'payment', 'redemption', 'transfer_in'] as const;
export type FlowChannel = (typeof FLOW_CHANNELS)[number];

/** The channels the liquidity reserve advances: they are what a run on the fund draws. */
export const RESERVE_CHANNELS: readonly FlowChannel[] = ['instant_redemption', 'payment'];

export type PerChannel<T> = Record<FlowChannel, T>;

/** One business date's totals per channel: integer fen and request counts. */
export interface DailyFlow {
  /** YYYY-MM-DD, Asia/Shanghai */
  date: string;
  totalsFen: PerChannel<bigint>;
  counts: PerChannel<number>;
  /** Where the service has it: the day's totals per Beijing hour, 24 entries per channel. */
  hourlyFen?: Partial<PerChannel<bigint[]>>;
}

export const perChannel = <T>(valueOf: (channel: FlowChannel) => T): PerChannel<T> =>
  Object.fromEntries(FLOW_CHANNELS.map((channel) => [channel, valueOf(channel)])) as PerChannel<T>;
