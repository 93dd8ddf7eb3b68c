// What the page shows, built as DOM nodes (never HTML strings: every text from the log
// goes in as text). Colour is never the only signal: each mark has a word and a symbol.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function fill(id, ...children) {
  const el = document.getElementById(id);
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return el;
}

const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
// 4 significant digits: grouped below a billion ("3,451,000"), else "3.45e+25"
const num = (x) => {
  if (x === null || x === undefined) return "–";
  const v = Number(x);
  if (Math.abs(v) < 1e9) return v.toLocaleString("en-US", { maximumSignificantDigits: 4 });
  return v.toExponential(3).replace(/\.?0+e/, "e");
};
const day = (iso) => (iso ? iso.slice(0, 10) : "–");
const when = (iso) => (iso ? iso.replace("T", " ").replace(/:\d\dZ$/, "Z") : "–");

export function ago(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

// --- marks on evidence entries ------------------------------------------------------------
const MARKS = {
  pending: ["…", "checking"],
  ok: ["✓", "verified"],
  fail: ["✗", "FAILED"],
  beyond: ["?", "not in the verified checkpoint yet"],
};

export function mark(status) {
  const [symbol, word] = MARKS[status] || MARKS.pending;
  return h("span", { class: `mark ${status}` }, `${symbol} ${word}`);
}

/** An evidence entry: a button that opens the entry viewer, with its verification mark. */
export function chip(index, ctx) {
  const status = ctx.entryStatus(index);
  const [symbol, word] = MARKS[status] || MARKS.pending;
  return h(
    "button",
    {
      class: `chip ${status}`,
      "data-entry": index,
      title: `entry ${index}: ${word}`,
      "aria-label": `entry ${index}, ${word}`,
      onclick: () => ctx.show(index),
    },
    `#${index} ${symbol}`,
  );
}

export function updateChips(index, status) {
  const [symbol, word] = MARKS[status];
  for (const el of document.querySelectorAll(`[data-entry="${index}"]`)) {
    el.className = `chip ${status}`;
    el.textContent = `#${index} ${symbol}`;
    el.title = `entry ${index}: ${word}`;
    el.setAttribute("aria-label", `entry ${index}, ${word}`);
  }
}

function chips(indices, ctx, limit = 12) {
  const shown = indices.slice(0, limit);
  const rest = indices.length - shown.length;
  return h(
    "span",
    { class: "chips" },
    shown.map((i) => chip(i, ctx)),
    rest > 0 ? h("span", { class: "more" }, ` and ${rest} more`) : null,
  );
}

/** The entries the page shows, all of which it verifies (violations: the first `limit`). */
export function shownEntries(state, limit = 12) {
  const out = new Set();
  const add = (xs) => xs.slice(0, limit).forEach((i) => out.add(i));
  for (const p of state.pauses) {
    out.add(p.index);
    add(p.evidence);
    add(p.safety_cases);
    add(p.accepted_reviews);
    add(p.vote_entries || []);
    if (p.ended_by !== null) out.add(p.ended_by);
  }
  for (const g of groupViolations(state.violations)) add(g.evidence);
  for (const d of state.duties) if (d.last_attestation !== null) out.add(d.last_attestation);
  for (const r of Object.values(state.runs)) out.add(r.index);
  return [...out].sort((a, b) => a - b);
}

// --- the verification bar and the alarm -----------------------------------------------------
export function renderVerification(v, pactId) {
  if (v.failure) {
    fill(
      "alarm",
      h("strong", {}, "✗ VERIFICATION FAILED: "),
      `${v.failure.what}: ${v.failure.message}. `,
      v.checkpoint
        ? `What the page shows is the last state it verified (size ${v.checkpoint.size}); do not trust what this server serves now.`
        : "Nothing this server serves can be trusted.",
    ).hidden = false;
  } else {
    fill("alarm").hidden = true;
  }
  if (!v.checkpoint) return fill("verify", h("span", { class: "mark pending" }, "… verifying the log"));
  const w = v.witnesses.filter((x) => x.valid).length;
  return fill(
    "verify",
    h("span", { class: `mark ${v.failure ? "fail" : "ok"}` }, v.failure ? "✗ stale" : "✓ verified"),
    ` checkpoint of size ${v.checkpoint.size}, signed by the pact's log key`,
    v.quorum > 0 || v.witnesses.length ? `, ${w} of ${v.witnesses.length} witnesses cosigned (quorum ${v.quorum})` : "",
    `; ${v.consistency}. Pact `,
    h("code", { class: "pact-id" }, pactId),
    ".",
  );
}

// --- the banner ---------------------------------------------------------------------------
function causeText(p) {
  if (p.cause === "threshold") return `threshold ${p.threshold} crossed (value ${num(p.value)})`;
  if (p.cause === "trigger") return `a trigger claim on threshold ${p.threshold}`;
  return "a declaration";
}

function fraction(f) {
  const [a, b] = String(f).split("/").map(Number);
  return b ? a / b : Number(f);
}

function resumeProgress(pact, pause, now) {
  const rules = pact.resume || {};
  const items = [];
  const minDays = rules.min_days || 0;
  const elapsed = (now - Date.parse(pause.started_at)) / 86400000;
  items.push(
    h("li", {}, mark(elapsed >= minDays ? "ok" : "pending"), ` minimum length: ${minDays} days (${Math.floor(elapsed)} elapsed)`),
  );
  const needs = rules.needs || [];
  if (needs.includes("safety.case")) {
    items.push(h("li", {}, mark(pause.safety_cases.length ? "ok" : "pending"), " safety case: ", pause.safety_cases.length ? chips(pause.safety_cases, pact.ctx) : "none yet"));
  }
  if (needs.includes("safety.review")) {
    items.push(h("li", {}, mark(pause.accepted_reviews.length ? "ok" : "pending"), " accepted review: ", pause.accepted_reviews.length ? chips(pause.accepted_reviews, pact.ctx) : "none yet"));
  }
  const votes = pause.votes;
  const byEntry = pause.vote_entries || [];
  for (const [role, f] of Object.entries(rules.quorum || {})) {
    const members = pact.members.filter((m) => m.role === role).map((m) => m.name);
    const yes = votes.filter((v) => members.includes(v));
    const need = Math.ceil(fraction(f) * members.length - 1e-9);
    const entries = yes.map((v) => byEntry[votes.indexOf(v)]).filter((i) => i !== undefined);
    items.push(
      h("li", {}, mark(yes.length >= need ? "ok" : "pending"), ` votes of ${role}s: ${yes.length} of ${members.length} (needs ${need}, ${f}) `, entries.length ? chips(entries, pact.ctx) : ""),
    );
  }
  return h("ul", { class: "progress" }, items);
}

export function renderBanner(state, pact, ctx) {
  const phase = state.phase;
  const banner = document.getElementById("banner");
  banner.className = `banner ${phase}`;
  const now = Date.parse(state.as_of);
  const pause = state.pauses.find((p) => p.index === state.active_pause);
  const last = state.pauses[state.pauses.length - 1];
  const parts = [];
  if (phase === "forming") {
    const missing = pact.members.filter((m) => !state.adopted.includes(m.name)).map((m) => m.name);
    parts.push(h("h2", {}, "◔ FORMING"), h("p", {}, `${state.adopted.length} of ${pact.members.length} members adopted this pact; waiting for ${missing.join(", ")}.`));
  } else if (phase === "paused" && pause) {
    parts.push(
      h("h2", {}, "■ PAUSED"),
      h("p", {}, `Since ${when(pause.started_at)}, by ${causeText(pause)}, at entry `, chip(pause.index, ctx), "."),
      pause.detail ? h("p", { class: "detail" }, pause.detail) : null,
      h("p", {}, "Evidence: ", chips(pause.evidence, ctx)),
      pause.stop_by ? h("p", { id: "stop-by" }, `Covered runs stop by ${when(pause.stop_by)}; compute on them after it is a violation.`) : null,
      h("h3", {}, "Duties"),
      state.duties.length
        ? h("ul", {}, state.duties.map((d) => h("li", {}, `${d.member}: attest by ${when(d.next_deadline)}; last attestation `, d.last_attestation !== null ? [chip(d.last_attestation, ctx), ` (${when(d.last_attested_at)})`] : "none yet")))
        : h("p", {}, "Labs wind down during the grace period; attestations are due after it."),
      h("h3", {}, "Resume progress"),
      resumeProgress({ ...pact, ctx }, pause, now),
    );
  } else {
    parts.push(h("h2", {}, "▶ ACTIVE"));
    if (last && last.ended_at) {
      parts.push(h("p", {}, `No pause in force. The last pause (${causeText(last)}) began ${when(last.started_at)} at `, chip(last.index, ctx), ` and was lifted ${when(last.ended_at)} at `, chip(last.ended_by, ctx), "."));
    } else {
      parts.push(h("p", {}, "No pause in force; no threshold has been crossed."));
    }
  }
  const inViolation = [...new Set(state.violations.map((v) => v.member))];
  parts.push(
    h("p", { class: "verdict" }, inViolation.length ? `⚠ ${plural(inViolation.length, "member")} in violation: ${inViolation.join(", ")}` : "✓ No member in violation."),
    h("p", { class: "asof" }, `State as of ${when(state.as_of)}, replayed by the server over the first ${state.applied + state.future} entries.`),
  );
  banner.replaceChildren(...parts.filter(Boolean));
}

// --- thresholds and their charts -------------------------------------------------------------
export function renderThresholds(state, pact, charts, ctx) {
  const rows = Object.entries(pact.thresholds || {}).map(([name, th]) => {
    const s = state.thresholds[name] || {};
    const limit = th.pause_above !== undefined ? `pause above ${num(th.pause_above)}` : `pause below ${num(th.pause_below)}`;
    return h(
      "tr",
      { class: s.crossed ? "crossed" : "" },
      h("th", { scope: "row" }, name),
      h("td", {}, h("code", {}, th.indicator), h("br"), th.estimator),
      h("td", {}, num(s.value)),
      h("td", {}, s.bound === undefined ? "–" : num(s.bound)),
      h("td", {}, limit),
      h("td", {}, s.crossed ? h("strong", {}, "▲ crossed") : "not crossed"),
      h("td", { class: "detail" }, s.detail || ""),
    );
  });
  fill(
    "thresholds",
    h("h2", {}, "Thresholds"),
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["threshold", "indicator", "value", "bound", "limit", "status", "detail"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows))),
    Object.entries(charts || {}).map(([name, c]) => chart(name, c, pact.thresholds[name], ctx)),
  );
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** Models' values by release date on a log axis, with intervals, the fit, its band and the limit. */
export function chart(name, data, th, ctx) {
  const pts = data.points.filter((p) => p.date && p.value > 0);
  const figure = h("figure", { class: "chart" });
  const caption = h("figcaption", {}, `${name}: ${th.indicator} by release date (log scale)`);
  if (!pts.length) return h("figure", { class: "chart" }, caption, h("p", {}, "No evaluation results logged yet."));
  const W = 720, H = 340, L = 56, R = 16, T = 14, B = 40;
  const xs = pts.map((p) => Date.parse(p.date));
  const line = data.trend ? data.trend.line : [];
  line.forEach((r) => xs.push(Date.parse(r[0])));
  const ys = [];
  pts.forEach((p) => ys.push(p.value, p.low || p.value, p.high || p.value));
  line.forEach((r) => ys.push(r[1], r[2], r[3]));
  let limitPath = null;
  if (data.limit.kind === "level" && data.limit.value > 0) ys.push(data.limit.value);
  if (data.limit.kind === "doubling" && data.limit.days > 0) {
    // the threshold's rate through the fit's latest point: a fit steeper than it crosses
    const xa = Date.parse(data.limit.from[0]);
    const at = (x) => data.limit.from[1] * 2 ** ((x - xa) / 86400000 / data.limit.days);
    const x0 = line.length ? Date.parse(line[0][0]) : xa - 90 * 86400000;
    const x1 = line.length ? Date.parse(line[line.length - 1][0]) : xa + 30 * 86400000;
    ys.push(at(x0), at(x1));
    limitPath = [[x0, at(x0)], [x1, at(x1)]];
  }
  const xmin = Math.min(...xs), xmax = Math.max(...xs) || xmin + 1;
  const lymin = Math.log10(Math.min(...ys.filter((y) => y > 0))) - 0.1;
  const lymax = Math.log10(Math.max(...ys)) + 0.1;
  const X = (t) => L + ((t - xmin) / (xmax - xmin || 1)) * (W - L - R);
  const Y = (v) => T + (1 - (Math.log10(v) - lymin) / (lymax - lymin || 1)) * (H - T - B);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${name} chart` });
  for (let e = Math.ceil(lymin); e <= Math.floor(lymax); e++) {
    svg.append(s("line", { x1: L, x2: W - R, y1: Y(10 ** e), y2: Y(10 ** e), class: "grid" }), s("text", { x: L - 6, y: Y(10 ** e) + 4, class: "tick", "text-anchor": "end" }, `${10 ** e}`));
  }
  const months = [];
  for (let d = new Date(xmin); d.getTime() <= xmax; d.setUTCMonth(d.getUTCMonth() + 1)) months.push(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)));
  const step = Math.max(1, Math.ceil(months.length / 8));
  months.filter((_, i) => i % step === 0).forEach((m) => {
    if (m.getTime() < xmin) return;
    svg.append(s("text", { x: X(m.getTime()), y: H - B + 16, class: "tick", "text-anchor": "middle" }, m.toISOString().slice(0, 7)));
  });
  if (line.length) {
    const band = line.map((r) => `${X(Date.parse(r[0]))},${Y(r[2])}`).concat(line.slice().reverse().map((r) => `${X(Date.parse(r[0]))},${Y(r[3])}`));
    svg.append(s("polygon", { points: band.join(" "), class: "band" }));
    svg.append(s("polyline", { points: line.map((r) => `${X(Date.parse(r[0]))},${Y(r[1])}`).join(" "), class: "fit" }));
  }
  if (data.limit.kind === "level" && data.limit.value > 0) {
    svg.append(s("line", { x1: L, x2: W - R, y1: Y(data.limit.value), y2: Y(data.limit.value), class: "limit" }));
  }
  if (limitPath) {
    svg.append(s("line", { x1: X(limitPath[0][0]), y1: Y(limitPath[0][1]), x2: X(limitPath[1][0]), y2: Y(limitPath[1][1]), class: "limit" }));
  }
  pts.forEach((p, i) => {
    const x = X(Date.parse(p.date));
    const g = s("g", { class: p.used ? "point used" : "point" }, s("title", {}, `${p.model}: ${p.value} (${p.low ?? "–"}–${p.high ?? "–"}), released ${p.date}, entry ${p.entry}`));
    if (p.low && p.high) g.append(s("line", { x1: x, x2: x, y1: Y(p.low), y2: Y(p.high), class: "err" }));
    g.append(s(p.used ? "circle" : "rect", p.used ? { cx: x, cy: Y(p.value), r: 4 } : { x: x - 3, y: Y(p.value) - 3, width: 6, height: 6 }));
    if (p.used) g.append(s("text", { x: x + 5, y: Y(p.value) - 5 - 9 * (i % 3), class: "label" }, p.model));
    svg.append(g);
  });
  const t = data.trend;
  const legend = h(
    "p",
    { class: "legend" },
    "● models in the fit, ■ other models, bars: reported intervals",
    t ? `; line: doubling every ${num(t.doubling_days)} days, band: ${Math.round(t.confidence * 100)}% (doubling ${num(t.doubling_ci[0])}–${num(t.doubling_ci[1])} days)` : "",
    data.limit.kind === "doubling" ? `; dashed: the threshold's rate through the latest fitted point (doubling every ${num(data.limit.days)} days; a steeper fit is faster)` : "",
    data.limit.kind === "level" ? `; dashed: the limit ${num(data.limit.value)}` : "",
    ". Points: ",
    chips(pts.map((p) => p.entry), ctx, 40),
  );
  figure.append(caption, svg, legend);
  return figure;
}

// --- members and violations --------------------------------------------------------------
export function groupViolations(violations) {
  const groups = new Map();
  for (const v of violations) {
    const key = `${v.member}\u0000${v.kind}`;
    if (!groups.has(key)) groups.set(key, { member: v.member, kind: v.kind, count: 0, amount: 0, unit: v.unit, from: v.at, to: v.at, evidence: new Set(), detail: v.detail });
    const g = groups.get(key);
    g.count += 1;
    if (v.amount !== null && v.amount !== undefined) g.amount += v.amount;
    if (v.at < g.from) g.from = v.at;
    if (v.at > g.to) g.to = v.at;
    v.evidence.forEach((i) => g.evidence.add(i));
  }
  return [...groups.values()].map((g) => ({ ...g, evidence: [...g.evidence].sort((a, b) => a - b) }));
}

// reported and metered compute (dashboard.json's "compute"): shown side by side; the
// verdict on them is the violations column (the meter rule judges reading by reading)
function computeCell(t) {
  if (!t) return "–";
  const lines = [];
  if (t.reports) lines.push(h("div", {}, `reported ${num(t.reported_flop)} FLOP, ${num(t.reported_accelerator_hours)} accelerator-h (${plural(t.reports, "report")})`));
  if (t.readings) lines.push(h("div", {}, `metered ${num(t.metered_accelerator_hours)} accelerator-h on its clusters (${plural(t.readings, "reading")}); reported ${num(t.reported_while_metered)} over those periods`));
  return lines.length ? lines : "–";
}

export function renderMembers(state, pact, ctx, compute = {}) {
  const groups = groupViolations(state.violations);
  const rows = pact.members.map((m) => {
    const runs = Object.values(state.runs).filter((r) => r.lab === m.name);
    const duty = state.duties.find((d) => d.member === m.name);
    const mine = groups.filter((g) => g.member === m.name);
    return h(
      "tr",
      { class: mine.length ? "violating" : "" },
      h("th", { scope: "row" }, m.name),
      h("td", {}, m.role),
      h("td", {}, state.adopted.includes(m.name) ? "✓ adopted" : "✗ not yet"),
      h("td", {}, duty ? [duty.last_attestation !== null ? [chip(duty.last_attestation, ctx), ` ${when(duty.last_attested_at)}`] : "none", h("br"), `due ${when(duty.next_deadline)}`] : "–"),
      h("td", {}, runs.length ? runs.map((r) => h("div", {}, chip(r.index, ctx), ` ${r.run_id} on ${r.cluster}, ${num(r.planned_flop)} FLOP${r.covered ? ", covered" : ""}`)) : "–"),
      h("td", { class: "compute" }, computeCell(compute[m.name])),
      h("td", {}, mine.length ? mine.map((g) => h("div", {}, `⚠ ${g.kind} ×${g.count}`)) : "✓ none"),
    );
  });
  fill(
    "members",
    h("h2", {}, "Members"),
    h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ["member", "role", "adoption", "last attestation", "registered runs", "compute: reported, metered", "violations"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", {}, rows))),
  );
  fill(
    "violations",
    h("h2", {}, "Violations"),
    groups.length
      ? h("ul", {}, groups.map((g) => h("li", { class: "violation" }, h("strong", {}, `⚠ ${g.member}: ${g.kind}`), `, ${plural(g.count, "time")}`, g.amount ? `, in all ${num(g.amount)} ${g.unit || ""}` : "", `, ${day(g.from)} to ${day(g.to)}. `, h("span", { class: "detail" }, g.detail), h("br"), "Evidence: ", chips(g.evidence, ctx))))
      : h("p", {}, "✓ No violations."),
  );
}

// --- timeline ------------------------------------------------------------------------------
export function renderTimeline(state, ctx) {
  const events = [];
  for (const r of Object.values(state.runs)) events.push([r.index, null, `${r.lab} registers run ${r.run_id} on ${r.cluster}`]);
  for (const p of state.pauses) {
    events.push([p.index, p.started_at, `pause begins: ${causeText(p)}`]);
    p.safety_cases.forEach((i) => events.push([i, null, "a safety case is filed"]));
    p.accepted_reviews.forEach((i) => events.push([i, null, "a safety case is accepted"]));
    (p.vote_entries || []).forEach((i, k) => events.push([i, null, `${p.votes[k]} votes to resume`]));
    if (p.ended_by !== null) events.push([p.ended_by, p.ended_at, "the pause is lifted: resume conditions hold"]);
  }
  for (const g of groupViolations(state.violations)) events.push([g.evidence[0], g.from, `violation begins: ${g.member} ${g.kind} (${plural(g.count, "time")})`]);
  for (const t of state.triggers) events.push([t.index, null, `${t.member} claims threshold ${t.threshold} crossed (${t.valid ? "valid" : "invalid"})`]);
  for (const a of Object.values(state.amendments)) events.push([a.index, null, `amendment proposed${a.approved ? " and approved" : ""}`]);
  events.sort((a, b) => a[0] - b[0]);
  fill(
    "timeline",
    h("h2", {}, "Timeline"),
    events.length
      ? h("ol", { class: "timeline" }, events.map(([i, t, text]) => h("li", {}, chip(i, ctx), " ", h("span", { class: "when", "data-time-of": i }, t ? when(t) : ctx.timeOf(i)), " ", text)))
      : h("p", {}, "Nothing has happened yet."),
  );
}

// --- entry viewer and log health --------------------------------------------------------
export function renderEntry(view) {
  if (!view) return fill("entry", h("p", {}, "Choose an entry above, or click any entry number on the page."));
  if (view.error) return fill("entry", h("p", { class: "mark fail" }, `✗ ${view.error}`));
  const d = view.decoded;
  return fill(
    "entry",
    h("h3", {}, `Entry ${view.index} `, mark(view.status)),
    view.message ? h("p", { class: view.status === "fail" ? "mark fail" : "" }, view.message) : null,
    h(
      "dl",
      {},
      h("dt", {}, "type"),
      h("dd", {}, d.type),
      h("dt", {}, "signer"),
      h("dd", {}, d.signer, " ", d.signature ? mark(d.signature === "valid" ? "ok" : d.signature === "invalid" ? "fail" : "pending") : null, d.signatureNote ? ` ${d.signatureNote}` : ""),
      h("dt", {}, "time"),
      h("dd", {}, d.time || "–"),
      h("dt", {}, "leaf hash"),
      h("dd", {}, h("code", {}, view.leaf)),
    ),
    h("pre", { class: "predicate" }, JSON.stringify(d.predicate, null, 2)),
    h("details", {}, h("summary", {}, `inclusion proof (${view.proof.length} hashes) against the checkpoint of size ${view.size}`), h("ol", { class: "proof" }, view.proof.map((p) => h("li", {}, h("code", {}, p))))),
  );
}

export function renderHealth(v, dash, pactId, url) {
  const cosigned = v.witnesses.filter((w) => w.time !== null).map((w) => w.time);
  const newest = cosigned.length ? Math.max(...cosigned) : null;
  fill(
    "health",
    h("h2", {}, "Log health"),
    h(
      "dl",
      {},
      h("dt", {}, "log size"),
      h("dd", {}, v.checkpoint ? `${v.checkpoint.size} entries (verified checkpoint)` : "–"),
      h("dt", {}, "root hash"),
      h("dd", {}, h("code", {}, v.checkpoint ? v.checkpoint.root : "–")),
      h("dt", {}, "checkpoint age"),
      h("dd", {}, newest !== null ? `newest cosignature ${ago(Date.now() / 1000 - newest)}` : v.seenAt ? `first seen by this page ${ago((Date.now() - v.seenAt) / 1000)} (checkpoints carry no time without witnesses)` : "–"),
      h("dt", {}, "witnesses"),
      h(
        "dd",
        {},
        v.witnesses.length
          ? h("ul", {}, v.witnesses.map((w) => h("li", {}, mark(w.valid ? "ok" : w.signed ? "fail" : "pending"), ` ${w.name}: ${w.valid ? `cosigned ${ago(Date.now() / 1000 - w.time)}` : w.signed ? "cosignature does not verify" : "no cosignature"}`)))
          : "the pact names no witnesses; ",
        `quorum ${v.quorum}`,
      ),
      h("dt", {}, "state"),
      h("dd", {}, dash ? `replayed by the server at size ${dash.size}, as of ${when(dash.state.as_of)}` : "–"),
    ),
    h(
      "p",
      { class: "honest" },
      "The checkpoint, the witnesses and every entry marked ✓ were verified in this browser against the pact's keys. The state itself (phase, violations, thresholds) is the server's replay: recompute it independently with ",
      h("code", {}, `pausepact audit ${url} --pact pact.toml`),
      " (pact ",
      h("code", {}, pactId.slice(0, 16)),
      "…).",
    ),
  );
}
