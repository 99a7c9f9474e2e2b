/**
 * Business dates are Beijing dates, and instants are answered in UTC: each instant an answer
 * carries (`createdAt`, `lockedUntil`, a report's `at`, ...) comes with its twin in Beijing
 * time, `<name>Beijing` (ISO 8601 with +08:00), placed right after it. Added by the JSON
 * serializer of the app and of the webhook deliveries, so no answer or event can forget one;
 * the OpenAPI document adds the same twins (src/http/openapi/document.ts).
 */
import { DateTime } from 'luxon';

export const BEIJING_TWIN_SUFFIX = 'Beijing';

/** An instant as the service answers it: ISO 8601 in UTC (Date's toISOString). */
const UTC_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
/** How instants are named (`at`, `asOf`, `createdAt`, `lockedUntil`): free text that looks like one (a name) gets no twin. */
const INSTANT_NAME = /^(at|asOf)$|At$|Until$/;

/** The instant a member holds, null for an instant not set (its twin is null too), undefined for no instant. */
const instantOf = (name: string, value: unknown): Date | null | undefined => {
  if (!INSTANT_NAME.test(name)) return undefined;
  if (value instanceof Date || value === null) return value;
  return typeof value === 'string' && UTC_INSTANT.test(value) ? new Date(value) : undefined;
};

/** A JSON.stringify replacer (Express' `json replacer`) that adds each instant's Beijing twin. */
export function withBeijingTwins(zone: string) {
  return (_key: string, value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return value;
    const entries = Object.entries(value);
    if (!entries.some(([name, inner]) => instantOf(name, inner) !== undefined)) return value;
    return Object.fromEntries(
      entries.flatMap(([name, inner]) => {
        const instant = instantOf(name, inner);
        if (instant === undefined) return [[name, inner]];
        return [[name, inner], [`${name}${BEIJING_TWIN_SUFFIX}`, instant && DateTime.fromJSDate(instant, { zone }).toISO()]];
      }),
    );
  };
}
