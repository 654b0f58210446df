/**
 * Reading a `google.protobuf.Timestamp` as protojson does (`unmarshalTimestamp` in encoding/protojson's
 * well_known_types.go): Go's `time.Parse(time.RFC3339Nano, ...)`, then at most 9 fractional digits, then a value
 * between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z once the offset is applied. JavaScript's `Date`
 * reads far more (it rolls 2099-02-30 over to March 2, takes hour 24, lower-case `t` and `z`), so nothing here
 * relies on it for validation.
 */
import { describeValue } from '../config/describe-value.ts';
import { ErrorCodes, PortcullisError } from '../errors.ts';

/** RFC 3339 §5.6 `date-time`, as Go spells it: upper-case `T` and `Z`, `.` before a fraction, an offset `±HH:MM`. */
const SHAPE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/;

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** A timestamp read, or what is wrong with the text. */
export type TimestampReading = { readonly date: Date } | { readonly problem: string };

function daysIn(month: number, year: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Why `text` does not have RFC 3339's shape, naming the likeliest slip. */
function shapeProblem(text: string): string {
  const expected = 'expected YYYY-MM-DDTHH:MM:SS[.fraction] then Z or ±HH:MM';
  if (/^\d{4}-\d{2}-\d{2}[t ]/.test(text))
    return `the date and the time are separated by "T" only; ${expected}`;
  if (/[\d.]z$/.test(text)) return `UTC is written "Z", upper case; ${expected}`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/.test(text))
    return `the time zone is missing; ${expected}`;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2},/.test(text))
    return `a fraction of a second follows "."; ${expected}`;
  return expected;
}

/** What is out of range in a well-shaped timestamp, or `undefined`. */
function fieldProblem(fields: readonly number[], fraction: string, offset: string): string | undefined {
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields;
  if (month < 1 || month > 12) return `month ${month} does not exist`;
  const days = daysIn(month, year);
  if (day < 1 || day > days) return `${MONTHS[month - 1]} ${year} has no day ${day} (it has ${days} days)`;
  if (hour > 23) return `hour ${hour} does not exist (the hours are 00 to 23)`;
  if (minute > 59) return `minute ${minute} does not exist (the minutes are 00 to 59)`;
  if (second > 59)
    return `second ${second} does not exist (the seconds are 00 to 59; Go refuses leap seconds)`;
  if (fraction.length > 9)
    return `the fraction of a second has ${fraction.length} digits, at most 9 are allowed`;
  if (offset !== 'Z') {
    const [hours = 0, minutes = 0] = offset.slice(1).split(':').map(Number);
    if (hours > 23 || minutes > 59) return `the offset ${offset} is not one (at most ±23:59)`;
  }
  return undefined;
}

/**
 * Reads `text` as protojson reads a Timestamp. A problem says what is wrong (`February 2099 has no day 30 (it has 28
 * days)`) without repeating the text; the caller names the field and quotes the value. The `Date` keeps
 * milliseconds (digits past the third are dropped, as everywhere portcullis keeps a time).
 */
export function readTimestamp(text: string): TimestampReading {
  const match = SHAPE.exec(text);
  if (match === null) return { problem: `not an RFC 3339 timestamp: ${shapeProblem(text)}` };
  const [, ...captured] = match;
  const fields = captured.slice(0, 6).map(Number);
  const fraction = captured[6] ?? '';
  const offset = captured[7] ?? 'Z';
  const problem = fieldProblem(fields, fraction, offset);
  if (problem !== undefined) return { problem: `not a valid time: ${problem}` };

  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0 to 99 as 1900 to 1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, Number(fraction.slice(0, 3).padEnd(3, '0')));
  if (offset !== 'Z') {
    const [hours = 0, minutes = 0] = offset.slice(1).split(':').map(Number);
    const sign = offset.startsWith('-') ? -1 : 1;
    date.setTime(date.getTime() - sign * (hours * 60 + minutes) * 60_000);
  }
  const utcYear = date.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) {
    return { problem: `out of range: in UTC it falls in year ${utcYear}, outside 0001 to 9999` };
  }
  return { date };
}

/**
 * A timestamp field of a request (`expiresAt`, in a JSON body or a query string): absent or `null` is unset (as
 * protojson and grpc-gateway read them), anything else must be a string {@link readTimestamp} accepts.
 *
 * @throws a `PortcullisError` (`INVALID_ARGUMENT`, HTTP 400) naming the field, the value found and what is wrong
 * with it: `invalid value for expiresAt: "2099-02-30T00:00:00Z" is not a valid time: February 2099 has no day 30
 * (it has 28 days)`.
 */
export function timestampField(field: string, value: unknown): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const reading: TimestampReading =
    typeof value === 'string'
      ? readTimestamp(value)
      : { problem: 'not a string (a timestamp is written in quotes)' };
  if ('date' in reading) return reading.date;
  throw new PortcullisError(
    ErrorCodes.INVALID_ARGUMENT,
    `invalid value for ${field}: ${describeValue(value)} is ${reading.problem}`,
  );
}
