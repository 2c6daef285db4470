// Wall-clock times in a named time zone (the tenant's, from its settings), whatever the browser's:
// a <input type="datetime-local"> value read as that zone's time and sent as ISO 8601 with the
// zone's offset at that moment, and an instant shown back in that zone.
//
// A wall time that the zone skips (the hour clocks jump forward) is read with the offset before
// the jump, so it lands just after it; a wall time it repeats (the hour they fall back) is the
// first of the two.

const formats = new Map();

function parts(instantMs, timeZone) {
  if (!formats.has(timeZone)) {
    formats.set(timeZone, new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  const found = {};
  for (const part of formats.get(timeZone).formatToParts(new Date(instantMs))) found[part.type] = Number(part.value);
  return found;
}

// How far ahead of UTC the zone's clocks are at this instant, in minutes.
function offsetMinutes(instantMs, timeZone) {
  const p = parts(instantMs, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return Math.round((asUtc - Math.floor(instantMs / 1000) * 1000) / 60000);
}

const pad = (n) => String(Math.abs(n)).padStart(2, "0");

function offsetText(minutes) {
  return `${minutes >= 0 ? "+" : "-"}${pad(Math.trunc(minutes / 60))}:${pad(minutes % 60)}`;
}

// "2026-12-01T07:30" (or with seconds) in `timeZone` -> "2026-12-01T07:30:00-05:00".
export function zonedInputToIso(value, timeZone) {
  if (!value) return null;
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!match) throw new Error(`'${value}' is not a date and time`);
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part || 0));
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  // The zone's offsets around that day: the one before a change, and after it.
  const earlier = offsetMinutes(wall - 86400000, timeZone);
  const candidates = [...new Set([earlier, offsetMinutes(wall + 86400000, timeZone)])];
  // The offset whose instant shows this wall time in the zone (the earliest when two do).
  const offset = candidates
    .filter((minutes) => offsetMinutes(wall - minutes * 60000, timeZone) === minutes)
    .sort((a, b) => b - a)[0] ?? earlier;
  const text = `${match[1]}-${match[2]}-${match[3]}T${match[4]}:${match[5]}:${pad(second)}`;
  return `${text}${offsetText(offset)}`;
}

// An instant -> the zone's wall time as a datetime-local value ("2026-12-01T07:30:00").
export function isoToZonedInput(iso, timeZone) {
  const p = parts(new Date(iso).getTime(), timeZone);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

// An instant shown in the zone, with the zone's name: "Dec 1, 2026, 07:30:00 (America/New_York)".
export function formatInZone(iso, timeZone) {
  if (!iso) return "";
  const shown = new Date(iso).toLocaleString(undefined, {
    timeZone, year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
  return `${shown} (${timeZone})`;
}
