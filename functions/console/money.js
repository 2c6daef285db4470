// Money is integer micro-dollars (1 USD = 1,000,000) end to end: formatted and parsed with BigInt,
// never through floating point.

const MICROS_PER_DOLLAR = 1000000n;
const DOLLARS = /^\s*\$?\s*(\d{1,12})(?:\.(\d{0,6}))?\s*$/;

// "$1,234.50", "$0.0085", "-$0.0255": at least cents, more digits only when the amount has them.
export function formatMicros(micros) {
  let value = BigInt(micros);
  const negative = value < 0n;
  if (negative) value = -value;
  const whole = (value / MICROS_PER_DOLLAR).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  let fraction = (value % MICROS_PER_DOLLAR).toString().padStart(6, "0").replace(/0+$/, "");
  fraction = fraction.padEnd(2, "0");
  return `${negative ? "-" : ""}$${whole}.${fraction}`;
}

// "12.5" or "$12.50" -> 12500000 (a Number: every amount the API takes is far below 2^53).
export function parseDollars(text) {
  const match = DOLLARS.exec(String(text));
  if (!match) throw new Error(`'${text}' is not an amount in dollars (up to 6 decimals)`);
  const micros = BigInt(match[1]) * MICROS_PER_DOLLAR + BigInt((match[2] || "").padEnd(6, "0"));
  return Number(micros);
}

// <input type="datetime-local"> value (the browser's local time) -> ISO 8601 with its UTC offset.
export function localInputToIso(value) {
  if (!value) return null;
  const moment = new Date(value);
  if (Number.isNaN(moment.getTime())) throw new Error(`'${value}' is not a date and time`);
  const offsetMinutes = -moment.getTimezoneOffset();
  const sign = offsetMinutes >= 0 ? "+" : "-";
  const pad = (n) => String(Math.abs(n)).padStart(2, "0");
  const date = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}`;
  const time = `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}`;
  const offset = `${sign}${pad(Math.trunc(offsetMinutes / 60))}:${pad(offsetMinutes % 60)}`;
  return `${date}T${time}${offset}`;
}

// An ISO time from the API, shown in the browser's local time.
export function formatInstant(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  return moment.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}
