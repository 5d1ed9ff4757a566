// INDI numbers: printf formats with INDI's %m (sexagesimal), and parsing of
// what an observer types ("5:35:17", "-5 23 28", "5h35m17s", "83.8").

/** Parse "12:30:15.5", "-5 30", "+10°20'30\"", "5h35m" or a decimal; NaN if none. */
export function parseSexagesimal(text) {
  const t = String(text).trim();
  if (t === "") return NaN;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  const m = t.match(/^([-+])?\s*(\d+(?:\.\d*)?)(?:[\s:hHdD°]+(\d+(?:\.\d*)?))?(?:[\s:mM']+(\d+(?:\.\d*)?))?[\s"'sSmM]*$/);
  if (!m) return NaN;
  const [, sign, d, mi, s] = m;
  const minutes = mi === undefined ? 0 : Number(mi);
  const seconds = s === undefined ? 0 : Number(s);
  if (minutes >= 60 || seconds >= 60) return NaN;
  const v = Number(d) + minutes / 60 + seconds / 3600;
  return sign === "-" ? -v : v;
}

/** Format like INDI's %<w>.<f>m: f 3 → h:m, 5 → h:m.m, 6 → h:m:s, 8 → h:m:s.s, 9 → h:m:s.ss */
export function formatSexagesimal(value, frac = 6) {
  if (!Number.isFinite(value)) return "";
  const text = unsigned(Math.abs(value), frac);
  // -0.00001 shows as 0:00:00, not -0:00:00.
  return value < 0 && /[1-9]/.test(text) ? `-${text}` : text;
}

function unsigned(v, frac) {
  const pad = (n) => String(n).padStart(2, "0");
  if (frac <= 3 || frac === 4) {
    let d = Math.floor(v), m = Math.round((v - d) * 60);
    if (m === 60) { d += 1; m = 0; }
    return `${d}:${pad(m)}`;
  }
  if (frac === 5) {
    let d = Math.floor(v), m = Math.round((v - d) * 600) / 10;
    if (m >= 60) { d += 1; m = 0; }
    return `${d}:${m.toFixed(1).padStart(4, "0")}`;
  }
  const decimals = frac >= 9 ? 2 : frac >= 8 ? 1 : 0;
  const scale = 10 ** decimals;
  let total = Math.round(v * 3600 * scale) / scale;
  const d = Math.floor(total / 3600);
  total -= d * 3600;
  const m = Math.floor(total / 60);
  const s = total - m * 60;
  const sText = decimals ? s.toFixed(decimals).padStart(3 + decimals, "0") : pad(Math.round(s));
  return `${d}:${pad(m)}:${sText}`;
}

/** A number shown as its INDI format says (%m, %f, %g, %d, %e). */
export function formatNumber(value, format) {
  if (value === null || value === undefined) return "—";
  const f = format || "%g";
  const m = f.match(/%[-+ 0#]*(\d*)(?:\.(\d+))?([a-zA-Z])/);
  if (!m) return String(value);
  const [, , prec, conv] = m;
  switch (conv) {
    case "m": return formatSexagesimal(value, prec === undefined ? 6 : Number(prec));
    case "f": return value.toFixed(prec === undefined ? 6 : Number(prec));
    case "e": return value.toExponential(prec === undefined ? 6 : Number(prec));
    case "d": case "i": return String(Math.round(value));
    default: return String(Number(value.toPrecision(prec === undefined ? 6 : Math.max(1, Number(prec)))));
  }
}

export const isSexagesimal = (format) => /%[^a-zA-Z%]*m/.test(format || "");
