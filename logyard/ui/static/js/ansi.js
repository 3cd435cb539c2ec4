// ANSI SGR colour codes (ESC[...m) rendered as spans; every other escape sequence is dropped.

const BASIC = ["#000", "#c33", "#3a3", "#b90", "#36c", "#a3a", "#2aa", "#bbb"];
const BRIGHT = ["#666", "#f55", "#5d5", "#ed5", "#58f", "#e5e", "#5ee", "#fff"];

const escapeHtml = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function color256(n) {
  if (n < 8) return BASIC[n];
  if (n < 16) return BRIGHT[n - 8];
  if (n < 232) { const i = n - 16, c = (x) => (x ? 55 + x * 40 : 0); return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`; }
  const g = 8 + (n - 232) * 10; return `rgb(${g},${g},${g})`;
}

function apply(style, codes) {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) { for (const k of Object.keys(style)) delete style[k]; }
    else if (c === 1) style.bold = true;
    else if (c === 22) delete style.bold;
    else if (c === 3) style.italic = true;
    else if (c === 23) delete style.italic;
    else if (c === 4) style.underline = true;
    else if (c === 24) delete style.underline;
    else if (c >= 30 && c <= 37) style.fg = BASIC[c - 30];
    else if (c >= 90 && c <= 97) style.fg = BRIGHT[c - 90];
    else if (c === 39) delete style.fg;
    else if (c >= 40 && c <= 47) style.bg = BASIC[c - 40];
    else if (c >= 100 && c <= 107) style.bg = BRIGHT[c - 100];
    else if (c === 49) delete style.bg;
    else if ((c === 38 || c === 48) && codes[i + 1] === 5) { style[c === 38 ? "fg" : "bg"] = color256(codes[i + 2]); i += 2; }
    else if ((c === 38 || c === 48) && codes[i + 1] === 2) { style[c === 38 ? "fg" : "bg"] = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`; i += 4; }
  }
}

function css(style) {
  const parts = [];
  if (style.fg) parts.push(`color:${style.fg}`);
  if (style.bg) parts.push(`background:${style.bg}`);
  if (style.bold) parts.push("font-weight:600");
  if (style.italic) parts.push("font-style:italic");
  if (style.underline) parts.push("text-decoration:underline");
  return parts.join(";");
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])/g;

/** HTML for a line: text escaped, SGR codes as styled spans. */
export function ansiToHtml(line) {
  if (line.indexOf("\x1b") < 0) return escapeHtml(line);
  const style = {};
  let out = "", last = 0, m;
  ESCAPE.lastIndex = 0;
  while ((m = ESCAPE.exec(line))) {
    out += span(line.slice(last, m.index), style);
    if (m[2] === "m") apply(style, m[1] === "" ? [0] : m[1].split(";").map(Number));
    last = ESCAPE.lastIndex;
  }
  return out + span(line.slice(last), style);
}

function span(text, style) {
  if (!text) return "";
  const s = css(style);
  return s ? `<span style="${s}">${escapeHtml(text)}</span>` : escapeHtml(text);
}

export const stripAnsi = (line) => line.replace(ESCAPE, "");
export { escapeHtml };
