// pixelgate dashboard: a small dependency-free app over the JSON API. This file holds the shell
// (sign-in, navigation, shared helpers) and the tracking pages; ads.js adds the ads pages through
// `pixelgateAdmin.page(...)`, as any further area can.
// The api key lives in sessionStorage (this tab only) and travels only in the Authorization header.
// Every value from the API is rendered with textContent (never innerHTML).
"use strict";

const KEY = "pixelgate.api_key";
const POLL_MS = 2500;
const PLATFORM_NAMES = { meta: "Meta", google: "GA4", linkedin: "LinkedIn", tiktok: "TikTok", google_ads: "Google Ads" };
const PLATFORM_COLORS = { meta: "#1877f2", google: "#e37400", linkedin: "#0a66c2", tiktok: "#111111", google_ads: "#34a853" };
const ID_LABELS = {
  meta: ["Pixel / dataset ID", "123456789012345"],
  google: ["Measurement ID", "G-XXXXXXXXXX"],
  linkedin: ["Conversion rule ID", "12345678"],
  tiktok: ["Pixel code", "C1A2B3C4D5E6F7G8H9I0"],
};
const TOKEN_LABELS = { meta: "Access token", linkedin: "Access token (OAuth)", tiktok: "Access token" };

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

/** h("td", {class: "x"}, "text", childNode) — builds DOM with textContent only. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const state = { key: null, me: null, pixels: [], tab: "overview", pollTimer: null, editing: null, banner: null, bannerLang: "en" };

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
    this.field = body?.error?.field;
  }
}

/** `credentials: "same-origin"` only for a call whose answer sets a cookie this browser must keep
 *  (the OAuth start binds the connection to this browser); the key itself is never a cookie. */
async function api(method, path, body, { credentials = "omit" } = {}) {
  const headers = { authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store", credentials });
  let json = null;
  try { json = await r.json(); } catch { /* empty body */ }
  if (r.status === 401) { signOut("Your session ended: the API key is no longer valid."); throw new ApiError(401, json); }
  if (r.status === 429) {
    flash(`Too many failed sign-ins from this address; retry in ${r.headers.get("retry-after") || 60} s.`, "error");
  }
  if (!r.ok) throw new ApiError(r.status, json);
  return json;
}

// ------------------------------------------------------------------ helpers

function flash(msg, kind = "ok") {
  const f = $("#flash");
  f.textContent = msg;
  f.className = `flash ${kind}`;
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, 5000);
}

const pct = (r) => (r === null || r === undefined ? "—" : `${(r * 100).toFixed(r === 1 ? 0 : 1)} %`);
const fmtTime = (s) => (s ? new Date(s * 1000).toLocaleString() : "—");
const fmtClock = (s) => new Date(s * 1000).toLocaleTimeString();
function ago(s) {
  if (!s) return "never";
  const d = Math.max(0, Date.now() / 1000 - s);
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}
const short = (s, n = 12) => (s && s.length > n ? `${s.slice(0, n)}…` : s || "—");

// ------------------------------------------------------------------ session

function signOut(message) {
  state.key = null;
  sessionStorage.removeItem(KEY);
  stopPolling();
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = message || "";
  $("#login-key").value = "";
  $("#login-key").focus();
}

async function signIn(key) {
  state.key = key;
  try {
    state.me = await api("GET", "/api/v1/tenants/me");
  } catch (e) {
    state.key = null;
    throw e;
  }
  sessionStorage.setItem(KEY, key);
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#tenant-name").textContent = state.me.name;
  renderInstall();
  renderSecurity();
  for (const f of onSignIn) f();
  showTab(location.hash.slice(1) || "overview");
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const key = $("#login-key").value.trim();
  $("#login-error").textContent = "";
  try {
    await signIn(key);
  } catch (e) {
    $("#login").hidden = false;
    $("#login-error").textContent = e.status === 401 ? "Unknown API key." : e.status === 429 ? "Too many attempts; wait a minute." : e.message;
  }
});
$("#logout").addEventListener("click", () => signOut());

// ------------------------------------------------------------------ tabs

// Every page: what to load when it is shown, and what to refresh (and how often) while it is.
// A page is a `#tabs` button with its `data-tab`, a `section#tab-{name}`, and an entry here.
const PAGES = {
  overview: { load: () => loadOverview(), poll: () => loadOverview(), every: 15000 },
  pixels: { load: () => loadPixels(), poll: () => loadPixels(), every: 10000 },
  live: { load: () => loadEvents(), poll: () => loadEvents(), every: POLL_MS },
  deliveries: { load: () => loadDeliveries(), poll: () => refreshDeliveries(), every: 10000 },
  banner: { load: () => loadBanner() },
  attribution: { load: () => loadAttribution() },
};
/** Registers a page (another script's). Called before sign-in (scripts load deferred, in order). */
function registerPage(name, page) { PAGES[name] = page; }
// Called after every sign-in, by every area that shows something outside its pages (a banner).
const onSignIn = [];

function showTab(tab) {
  if (!$(`#tab-${tab}`)) tab = "overview";
  state.tab = tab;
  history.replaceState(null, "", `#${tab}`);
  for (const s of $$(".tab")) s.hidden = s.id !== `tab-${tab}`;
  for (const b of $$("#tabs button")) {
    if (b.dataset.tab === tab) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  stopPolling();
  const page = PAGES[tab];
  page?.load?.()?.catch?.((e) => flash(e.message, "error"));
  if (page?.poll) startPolling(page.poll, page.every || 10000);
}
$("#tabs").addEventListener("click", (ev) => { const t = ev.target.closest("button")?.dataset.tab; if (t) showTab(t); });

function startPolling(fn, every) {
  stopPolling();
  state.pollTimer = setInterval(() => { if (!document.hidden && state.key) fn().catch(() => {}); }, every);
}
function stopPolling() { clearInterval(state.pollTimer); state.pollTimer = null; }

// ------------------------------------------------------------------ attribution

const CHANNEL_COLORS = { paid: "#4f46e5", organic_search: "#16a34a", social: "#0891b2", email: "#d97706", referral: "#7c3aed", direct: "#9aa5b1" };
const money = (v, cur) => v === undefined || v === null ? "—" : `${Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 })}${cur && cur !== "mixed" ? " " + cur : ""}`;
const num = (v) => Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 });

async function loadAttribution() {
  state.attrModel = state.attrModel || "last";
  for (const b of $$("#attr-models button")) b.setAttribute("aria-pressed", String(b.dataset.model === state.attrModel));
  const q = new URLSearchParams({ model: state.attrModel, conversion: $("#attr-conversion").value.trim() || "purchase" });
  if ($("#attr-from").value) q.set("from", $("#attr-from").value);
  if ($("#attr-to").value) q.set("to", $("#attr-to").value);
  $("#attr-error").textContent = "";
  let r;
  try {
    r = await api("GET", `/api/v1/attribution?${q}`);
  } catch (e) {
    $("#attr-error").textContent = e.message;
    return;
  }
  if (!$("#attr-from").value) { $("#attr-from").value = r.from; $("#attr-to").value = r.to; }
  $("#attr-metrics").replaceChildren(
    metric("Conversions", r.conversions, `${r.conversion}, ${r.from} → ${r.to}`),
    metric("Revenue", money(r.revenue, r.currency), r.currency === "mixed" ? "several currencies" : "conversion values"),
    metric("Lookback", `${r.lookback_days} days`, "touchpoints counted before each conversion"),
  );
  const row = (cells) => h("tr", {}, ...cells.map((c) => h("td", {}, c)));
  const empty = (cols) => h("tr", {}, h("td", { colspan: cols, class: "muted" }, "No conversions in this period."));
  $("#attr-channels tbody").replaceChildren(...(r.by_channel.length ? r.by_channel.map((x) => row([
    h("span", {}, h("i", { class: "swatch", style: `background:${CHANNEL_COLORS[x.channel] || "#6b7280"}` }), x.channel.replace("_", " ")),
    num(x.conversions), money(x.revenue, r.currency)])) : [empty(3)]));
  $("#attr-sources tbody").replaceChildren(...(r.by_source_medium.length ? r.by_source_medium.map((x) => row([
    `${x.source} / ${x.medium}`, num(x.conversions), money(x.revenue, r.currency)])) : [empty(3)]));
  $("#attr-campaigns tbody").replaceChildren(...(r.by_campaign.length ? r.by_campaign.map((x) => row([
    x.campaign, `${x.source} / ${x.medium}`, num(x.conversions), money(x.revenue, r.currency),
    money(x.spend), money(x.cpa), x.roas === undefined ? "—" : `${num(x.roas)}×`])) : [empty(7)]));
  renderAttributionChart(r.by_channel);
}

/** Horizontal bars: credited conversions per channel. */
function renderAttributionChart(rows) {
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs = {}) => { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
  const W = 520, BAR = 22, GAP = 8, L = 110, R = 60;
  const H = Math.max(1, rows.length) * (BAR + GAP) + GAP;
  const max = Math.max(1e-9, ...rows.map((x) => x.conversions));
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Credited conversions per channel" });
  rows.forEach((x, i) => {
    const y = GAP + i * (BAR + GAP);
    const w = ((W - L - R) * x.conversions) / max;
    const label = s("text", { x: L - 8, y: y + BAR / 2 + 4, class: "axis", "text-anchor": "end" }); label.textContent = x.channel.replace("_", " ");
    const bar = s("rect", { x: L, y, width: Math.max(1, w), height: BAR, rx: 3, fill: CHANNEL_COLORS[x.channel] || "#6b7280" });
    const tt = s("title"); tt.textContent = `${x.channel}: ${num(x.conversions)} conversions, ${num(x.revenue)} revenue`; bar.append(tt);
    const value = s("text", { x: L + w + 6, y: y + BAR / 2 + 4, class: "axis" }); value.textContent = num(x.conversions);
    svg.append(label, bar, value);
  });
  $("#attr-chart").replaceChildren(svg);
}

$("#attr-models").addEventListener("click", (ev) => {
  const m = ev.target.closest("button")?.dataset.model;
  if (m) { state.attrModel = m; loadAttribution(); }
});
$("#attr-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadAttribution(); });

// ------------------------------------------------------------------ overview

async function loadOverview() {
  const [stats, hourly, pixels] = await Promise.all([
    api("GET", "/api/v1/tracking/events/stats"),
    api("GET", "/api/v1/tracking/events/hourly?hours=48"),
    api("GET", "/api/v1/tracking/pixels"),
  ]);
  state.pixels = pixels.pixels;
  const m = $("#metrics");
  m.replaceChildren(
    metric("Events (24 h)", stats.events_24h ?? 0, `${stats.received_24h ?? 0} received, ${stats.rejected_24h ?? 0} rejected`),
    metric("Server-side success", pct(stats.server_side_success_rate), "delivered / (delivered + failed)"),
    metric("Consent rate", pct(stats.consent_rate), "visitors with marketing consent"),
    metric("Dedup rate", pct(stats.dedup_rate), `${stats.duplicates_24h ?? 0} duplicates dropped`),
  );
  const tbody = $("#platform-table tbody");
  const names = new Set([...Object.keys(stats.platforms || {}), ...state.pixels.map((p) => p.platform)]);
  tbody.replaceChildren(...[...names].sort().map((name) => {
    const s = stats.platforms?.[name] || {};
    const color = worstColor(state.pixels.filter((p) => p.platform === name));
    return h("tr", {}, h("td", {}, PLATFORM_NAMES[name] || name),
      h("td", {}, h("span", { class: `dot ${color}`, title: color }), " ", s.status || "idle"),
      h("td", {}, s.delivered ?? 0), h("td", {}, s.failed ?? 0), h("td", {}, pct(s.success_rate)));
  }));
  if (!names.size) tbody.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No pixels configured.")));
  renderChart(hourly);
}

function metric(label, value, sub) {
  return h("div", { class: "card metric" }, h("div", { class: "metric-label" }, label), h("div", { class: "metric-value" }, value), h("div", { class: "fine" }, sub));
}

function worstColor(pixels) {
  const order = ["red", "yellow", "green", "grey"];
  const active = pixels.map((p) => p.health?.color || "grey");
  for (const c of order) if (active.includes(c)) return c;
  return "grey";
}

/** Inline SVG line chart: delivered deliveries per hour per platform (+ failed as red ticks). */
function renderChart(data) {
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs = {}) => { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
  const W = 720, H = 220, L = 36, R = 28, T = 10, B = 28;
  const hours = data.hours || [];
  const series = Object.entries(data.platforms || {}).map(([name, v]) => ({ name, delivered: v.delivered, failed: v.failed }));
  const max = Math.max(1, ...series.flatMap((x) => [...x.delivered, ...x.failed]), ...(data.events || []));
  const niceMax = niceCeil(max);
  const x = (i) => L + (i * (W - L - R)) / Math.max(1, hours.length - 1);
  const y = (v) => T + (H - T - B) * (1 - v / niceMax);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Deliveries per hour per platform, last 48 hours" });
  for (let k = 0; k <= 4; k++) {
    const v = (niceMax * k) / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    const t = s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }); t.textContent = Number.isInteger(v) ? v : v.toFixed(1); svg.append(t);
  }
  hours.forEach((hr, i) => {
    const d = new Date(hr * 1000);
    if (d.getHours() % 6 === 0) {
      const anchor = i > hours.length - 4 ? "end" : i < 3 ? "start" : "middle";
      const t = s("text", { x: x(i), y: H - 8, class: "axis", "text-anchor": anchor });
      t.textContent = d.getHours() === 0 ? d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) : `${String(d.getHours()).padStart(2, "0")}:00`;
      svg.append(t);
      svg.append(s("line", { x1: x(i), x2: x(i), y1: H - B, y2: H - B + 4, class: "tick" }));
    }
  });
  if (data.events?.some((v) => v > 0)) {
    svg.append(s("polyline", { points: data.events.map((v, i) => `${x(i)},${y(v)}`).join(" "), class: "events-line" }));
  }
  for (const ser of series) {
    const color = PLATFORM_COLORS[ser.name] || "#6b7280";
    svg.append(s("polyline", { points: ser.delivered.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none", stroke: color, "stroke-width": 2, "stroke-linejoin": "round", "data-platform": ser.name }));
    ser.delivered.forEach((v, i) => { if (v > 0) { const c = s("circle", { cx: x(i), cy: y(v), r: 3, fill: color }); const tt = s("title"); tt.textContent = `${PLATFORM_NAMES[ser.name] || ser.name}: ${v} delivered at ${new Date(hours[i] * 1000).toLocaleString()}`; c.append(tt); svg.append(c); } });
    ser.failed.forEach((v, i) => { if (v > 0) { const c = s("rect", { x: x(i) - 3, y: y(v) - 3, width: 6, height: 6, class: "failed" }); const tt = s("title"); tt.textContent = `${PLATFORM_NAMES[ser.name] || ser.name}: ${v} failed`; c.append(tt); svg.append(c); } });
  }
  svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "baseline" }));
  $("#chart").replaceChildren(svg);
  if (!series.length) $("#chart").append(h("p", { class: "chart-empty muted" }, "No deliveries in the last 48 hours."));
  $("#chart-legend").replaceChildren(
    ...series.map((ser) => h("span", {}, h("i", { style: `background:${PLATFORM_COLORS[ser.name] || "#6b7280"}` }), PLATFORM_NAMES[ser.name] || ser.name)),
    h("span", {}, h("i", { class: "ev" }), "events received"),
    h("span", {}, h("i", { class: "fail" }), "failed"),
  );
}

function niceCeil(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// ------------------------------------------------------------------ pixels

async function loadPixels() {
  const { pixels } = await api("GET", "/api/v1/tracking/pixels");
  state.pixels = pixels;
  const tbody = $("#pixel-table tbody");
  $("#pixels-empty").hidden = pixels.length > 0;
  tbody.replaceChildren(...pixels.map(pixelRow));
}

function pixelRow(p) {
  const hl = p.health || { color: "grey", reason: "" };
  const check = p.health_check?.result;
  return h("tr", { dataset: { pixel: p.id, color: hl.color } },
    h("td", {}, h("span", { class: `dot ${hl.color}`, title: hl.reason, "aria-label": hl.color })),
    h("td", {}, PLATFORM_NAMES[p.platform] || p.platform),
    h("td", { class: "mono" }, p.pixel_id, p.test_event_code ? h("span", { class: "tag" }, `test ${p.test_event_code}`) : null),
    h("td", { class: "status-cell" }, h("div", {}, hl.reason), h("div", { class: "fine" }, `last delivery ${ago(hl.last_delivered_at)}`)),
    h("td", {}, p.server_side_enabled ? "server" : "", p.server_side_enabled && p.browser_enabled ? " + " : "", p.browser_enabled ? "browser" : "",
      !p.server_side_enabled && !p.browser_enabled ? "off" : ""),
    h("td", { class: "fine" }, (p.domains || []).join(", ") || "all"),
    h("td", { class: "fine", title: check?.untested || "" }, check ? `${check.ok === null ? "silent, not tested" : check.ok ? "test OK" : "test FAILED"} ${ago(p.health_check.checked_at)}` : p.last_verified_at ? `verified ${ago(p.last_verified_at)}` : "—"),
    h("td", { class: "actions" },
      h("button", { onclick: () => verifyPixel(p), "data-action": "verify" }, "Verify"),
      h("button", { onclick: () => openPixelForm(p), "data-action": "edit" }, "Edit"),
      h("button", { onclick: () => toggleActive(p), "data-action": "toggle" }, p.is_active ? "Deactivate" : "Activate"),
      h("button", { class: "danger-text", onclick: () => deletePixel(p), "data-action": "delete" }, "Delete")));
}

async function verifyPixel(p) {
  const out = $("#verify-out");
  out.hidden = false;
  $("#verify-body").textContent = `Calling ${PLATFORM_NAMES[p.platform]}…`;
  try {
    const r = await api("POST", `/api/v1/tracking/pixels/${encodeURIComponent(p.id)}/verify`);
    $("#verify-body").textContent = `${r.ok ? "✔ accepted" : "✘ rejected"} by ${PLATFORM_NAMES[r.platform] || r.platform}` +
      (r.http_status !== undefined ? ` (HTTP ${r.http_status})` : "") + "\n\n" + JSON.stringify(r, null, 2);
    out.dataset.ok = String(!!r.ok);
  } catch (e) {
    $("#verify-body").textContent = `Error: ${e.message}`;
  }
  loadPixels();
}

async function toggleActive(p) {
  await api("PUT", `/api/v1/tracking/pixels/${encodeURIComponent(p.id)}`, { is_active: !p.is_active });
  flash(`${PLATFORM_NAMES[p.platform]} pixel ${p.is_active ? "deactivated" : "activated"}.`);
  loadPixels();
}

async function deletePixel(p) {
  if (!confirm(`Delete the ${PLATFORM_NAMES[p.platform]} pixel ${p.pixel_id}? Events stop going to it at once.`)) return;
  await api("DELETE", `/api/v1/tracking/pixels/${encodeURIComponent(p.id)}`);
  flash("Pixel deleted.");
  loadPixels();
}

function openPixelForm(p) {
  state.editing = p || null;
  const f = $("#pixel-form");
  f.reset();
  $("#pixel-error").textContent = "";
  $("#pixel-form-title").textContent = p ? `Edit ${PLATFORM_NAMES[p.platform]} pixel` : "Add pixel";
  f.platform.value = p?.platform || "meta";
  f.platform.disabled = !!p;
  f.pixel_id.value = p?.pixel_id || "";
  f.test_event_code.value = p?.test_event_code || "";
  f.domains.value = (p?.domains || []).join(", ");
  f.server_side_enabled.checked = p ? p.server_side_enabled : true;
  f.browser_enabled.checked = !!p?.browser_enabled;
  f.browser_id.value = p?.browser_id || "";
  f.is_active.checked = p ? p.is_active : true;
  // Secrets are write-only: show that one is set, never its value.
  f.access_token.placeholder = p?.has_access_token ? "set — leave empty to keep" : "not set";
  f.api_secret.placeholder = p?.has_api_secret ? "set — leave empty to keep" : "not set";
  syncPlatformFields();
  $("#pixel-dialog").showModal();
  f.pixel_id.focus();
}

function syncPlatformFields() {
  const f = $("#pixel-form");
  const platform = f.platform.value;
  for (const el of $$("[data-for]", f)) el.hidden = !el.dataset.for.split(" ").includes(platform);
  $("#pf-id-label").textContent = ID_LABELS[platform][0];
  f.pixel_id.placeholder = ID_LABELS[platform][1];
  $("#pf-token-label").textContent = TOKEN_LABELS[platform] || "Access token";
}

$("#pixel-form").platform.addEventListener("change", syncPlatformFields);
$("#add-pixel").addEventListener("click", () => openPixelForm(null));
$("#pixel-cancel").addEventListener("click", () => $("#pixel-dialog").close());
$("#pixel-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target;
  const platform = f.platform.value;
  const body = {
    pixel_id: f.pixel_id.value.trim(),
    is_active: f.is_active.checked,
    server_side_enabled: f.server_side_enabled.checked,
    browser_enabled: f.browser_enabled.checked,
    domains: f.domains.value.split(/[\s,]+/).map((d) => d.trim()).filter(Boolean),
  };
  if (!state.editing) body.platform = platform;
  if (platform === "google") { if (f.api_secret.value) body.api_secret = f.api_secret.value; }
  else if (f.access_token.value) body.access_token = f.access_token.value;
  if (platform === "meta" || platform === "tiktok") body.test_event_code = f.test_event_code.value.trim() || null;
  if (platform === "linkedin") body.browser_id = f.browser_id.value.trim() || null;
  try {
    if (state.editing) await api("PUT", `/api/v1/tracking/pixels/${encodeURIComponent(state.editing.id)}`, body);
    else await api("POST", "/api/v1/tracking/pixels", body);
    $("#pixel-dialog").close();
    flash(state.editing ? "Pixel saved." : "Pixel created.");
    loadPixels();
  } catch (e) {
    $("#pixel-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message;
  }
});
$("#verify-close").addEventListener("click", () => { $("#verify-out").hidden = true; });

// ------------------------------------------------------------------ live events

async function loadEvents() {
  if ($("#live-pause").checked) return;
  const { events } = await api("GET", "/api/v1/tracking/events/recent");
  $("#events-empty").hidden = events.length > 0;
  const open = new Set($$("#event-table tr.details:not([hidden])").map((r) => r.dataset.event));
  const rows = [];
  for (const e of events) {
    const c = e.consent || {};
    const details = h("tr", { class: "details", dataset: { event: e.event_id }, hidden: !open.has(e.event_id) },
      h("td", { colspan: 6 }, h("pre", {}, JSON.stringify({ event_id: e.event_id, url: e.url, user_data: e.user_data, custom_data: e.custom_data, click_ids: e.click_ids, deliveries: e.deliveries }, null, 2))));
    rows.push(h("tr", { class: "event", dataset: { event: e.event_id } },
      h("td", { class: "mono", title: fmtTime(e.received_at) }, fmtClock(e.received_at)),
      h("td", {}, h("strong", {}, e.event_name)),
      h("td", { class: "mono", title: e.visitor_id || "" }, short(e.visitor_id, 10)),
      h("td", {}, h("span", { class: `chip ${c.analytics ? "on" : "off"}`, title: "analytics" }, "A"), h("span", { class: `chip ${c.marketing ? "on" : "off"}`, title: "marketing" }, "M")),
      h("td", { class: "deliveries" }, (e.deliveries || []).length ? e.deliveries.map((d) =>
        h("span", { class: `chip st-${d.status}`, title: `${d.status}${d.attempts ? ` after ${d.attempts} attempt(s)` : ""}\n${d.last_error || d.response || ""}`, dataset: { platform: d.platform, status: d.status } },
          `${PLATFORM_NAMES[d.platform] || d.platform} · ${d.status}`)) : h("span", { class: "muted" }, "no destination")),
      h("td", { class: "actions" }, h("button", { class: "link", onclick: () => { details.hidden = !details.hidden; } }, "details"),
        h("button", { class: "link", "data-action": "audit", onclick: () => openEvent(e.event_id) }, "audit"))));
    rows.push(details);
  }
  $("#event-table tbody").replaceChildren(...rows);
  const dot = $("#live-dot");
  dot.classList.remove("pulse"); void dot.offsetWidth; dot.classList.add("pulse");
}

// ------------------------------------------------------------------ deliveries: audit and replay

// The failed and the paused deliveries, each a list paged with the API's opaque cursor.
const deliveryLists = { failed: { rows: [], cursor: null, pages: 0 }, paused: { rows: [], cursor: null, pages: 0 } };

async function loadDeliveries() {
  const { pixels } = await api("GET", "/api/v1/tracking/pixels");
  state.pixels = pixels;
  await Promise.all(["failed", "paused"].map((s) => loadDeliveryList(s, false)));
}

/** Polling refreshes the first pages only while no list was extended with "Load more". */
function refreshDeliveries() {
  if (deliveryLists.failed.pages > 1 || deliveryLists.paused.pages > 1) return Promise.resolve();
  return loadDeliveries();
}

async function loadDeliveryList(status, more) {
  const list = deliveryLists[status];
  const cursor = more && list.cursor ? `&cursor=${encodeURIComponent(list.cursor)}` : "";
  const r = await api("GET", `/api/v1/tracking/deliveries?status=${status}&limit=50${cursor}`);
  list.rows = more ? list.rows.concat(r.deliveries) : r.deliveries;
  list.cursor = r.next_cursor;
  list.pages = more ? list.pages + 1 : 1;
  $(`#${status}-table tbody`).replaceChildren(...list.rows.map((d) => deliveryRow(d, status)));
  $(`#${status}-empty`).hidden = list.rows.length > 0;
  $(`#${status}-table`).hidden = list.rows.length === 0;
  $(`#${status}-more`).hidden = !list.cursor;
  $(`#${status}-count`).textContent = list.rows.length ? `${list.rows.length}${list.cursor ? "+" : ""}` : "";
  if (status === "failed") $("#replay-all").disabled = list.rows.length === 0;
}

function destination(pixelId, platform) {
  const p = state.pixels.find((x) => x.id === pixelId);
  return [PLATFORM_NAMES[platform] || platform, " ", h("span", { class: "mono fine" }, p ? p.pixel_id : "deleted pixel")];
}

function deliveryRow(d, status) {
  const action = status === "failed"
    ? h("button", { "data-action": "replay", onclick: (ev) => replayEvent(d.event_id, ev.currentTarget) }, "Replay")
    : h("button", { class: "link", "data-action": "credentials", onclick: () => editPixelById(d.pixel_id) }, "Update credentials");
  return h("tr", { dataset: { event: d.event_id, pixel: d.pixel_id, status: d.status } },
    h("td", { class: "mono", title: fmtTime(d.updated_at) }, ago(d.updated_at)),
    h("td", {}, h("button", { class: "link event-link", "data-action": "event", onclick: () => openEvent(d.event_id) },
      h("strong", {}, d.event_name || "event"), " ", h("span", { class: "mono" }, short(d.event_id, 18)))),
    h("td", {}, destination(d.pixel_id, d.platform)),
    h("td", {}, d.attempts),
    h("td", { class: "reason" }, d.last_error || "—"),
    h("td", { class: "actions" }, action));
}

function editPixelById(id) {
  const p = state.pixels.find((x) => x.id === id);
  showTab("pixels");
  if (p) openPixelForm(p);
}

/** What a replay answer means to the user. An event's replay leaves its other destinations alone
 *  (delivered, paused, ...): only when nothing was replayed is the first reason worth showing. A
 *  replay of every failed delivery marks those their pixel no longer takes as skipped, with why. */
function replayMessage(r, what, all = false) {
  const parts = [r.replayed ? `Replayed ${r.replayed} ${r.replayed === 1 ? "delivery" : "deliveries"}${what}.` : `Nothing replayed${what}.`];
  if (r.remaining) parts.push(`${r.remaining} more failed: replay again to continue.`);
  if (all && r.not_replayed_count) parts.push(`${r.not_replayed_count} no longer go to their pixel and are marked skipped with the reason.`);
  else if (!r.replayed && r.not_replayed?.length) parts.push(`${r.not_replayed[0].reason}.`);
  return parts.join(" ");
}

async function replayEvent(eventId, button) {
  if (button) button.disabled = true;
  try {
    const r = await api("POST", "/api/v1/tracking/deliveries/replay", { event_ids: [eventId] });
    flash(replayMessage(r, ` of ${eventId}`), r.replayed ? "ok" : "error");
  } catch (e) {
    flash(e.message, "error");
  }
  await loadDeliveries().catch(() => {});
  return true;
}

$("#replay-all").addEventListener("click", async () => {
  if (!confirm("Replay every failed delivery? Each goes through the queue again; consent is checked again and nothing already delivered is sent twice.")) return;
  $("#replay-all").disabled = true;
  try {
    const r = await api("POST", "/api/v1/tracking/deliveries/replay", { status: "failed" });
    flash(replayMessage(r, "", true), r.replayed ? "ok" : "error");
  } catch (e) {
    flash(e.message, "error");
  }
  await loadDeliveries().catch(() => {});
});
for (const s of ["failed", "paused"]) $(`#${s}-more`).addEventListener("click", () => loadDeliveryList(s, true));
document.addEventListener("click", (ev) => {
  const link = ev.target.closest("[data-goto]");
  if (link) { ev.preventDefault(); showTab(link.dataset.goto); }
});

$("#event-lookup").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#lookup-error").textContent = "";
  const id = ev.target.event_id.value.trim();
  if (!(await openEvent(id))) $("#lookup-error").textContent = `No event ${id} in this account.`;
});

/** The event's audit trail in a dialog: every destination's fate. False when there is no such event. */
async function openEvent(id) {
  let d;
  try {
    if (!state.pixels.length) state.pixels = (await api("GET", "/api/v1/tracking/pixels")).pixels;
    d = await api("GET", `/api/v1/tracking/events/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status === 404) { flash(`No event ${id} in this account.`, "error"); return false; }
    throw e;
  }
  const c = d.consent || {};
  $("#ev-title").textContent = `${d.event_name} · ${d.event_id}`;
  const fact = (k, ...v) => [h("dt", {}, k), h("dd", {}, ...v)];
  $("#ev-facts").replaceChildren(
    ...fact("Event time", fmtTime(d.event_time)),
    ...fact("Received", fmtTime(d.received_at)),
    // Past the 48 h window the answer comes from the event's history file (R2).
    ...(d.archived ? fact("Source", "history: past the 48 h window, destinations as they were when it left") : []),
    ...fact("Visitor", h("span", { class: "mono" }, d.visitor_id || "—")),
    ...fact("URL", h("span", { class: "mono" }, d.url || "—")),
    ...fact("Consent", h("span", { class: `chip ${c.analytics ? "on" : "off"}` }, "analytics"), h("span", { class: `chip ${c.marketing ? "on" : "off"}` }, "marketing")));
  $("#ev-destinations tbody").replaceChildren(...d.destinations.map((x) => h("tr", { dataset: { pixel: x.pixel_id, status: x.status, recorded: String(x.recorded) } },
    h("td", {}, destination(x.pixel_id, x.platform)),
    h("td", {}, h("span", { class: `chip st-${x.status}` }, x.recorded ? x.status : "not sent"),
      x.replays ? h("span", { class: "fine", title: `last replay ${fmtTime(x.replayed_at)}` }, ` replayed ×${x.replays}`) : null),
    h("td", {}, x.recorded ? x.attempts : "—"),
    h("td", { class: "fine" }, x.updated_at ? fmtTime(x.updated_at) : "—"),
    h("td", { class: "mono fine" }, x.trace_id || "—"),
    h("td", { class: "reason" }, x.skip_reason || x.last_error || x.response || "—"))));
  const replay = $("#ev-replay");
  replay.hidden = !d.destinations.some((x) => x.status === "failed");
  replay.onclick = async () => { replay.disabled = true; await replayEvent(d.event_id); replay.disabled = false; await openEvent(d.event_id); };
  $("#ev-data").textContent = JSON.stringify({ user_data: d.user_data, custom_data: d.custom_data, click_ids: d.click_ids, utm: d.utm, referrer: d.referrer }, null, 2);
  const dialog = $("#event-dialog");
  dialog.dataset.event = d.event_id;
  if (!dialog.open) dialog.showModal();
  return true;
}
$("#ev-close").addEventListener("click", () => $("#event-dialog").close());

// ------------------------------------------------------------------ banner

// The banner's own texts and colours (banner.js's `pixelgateBanner.defaults`), reported by the
// preview frame once it has loaded: placeholders for empty texts, values for unset colours.
const TEXT_FIELDS = ["title", "description", "accept_all", "reject_all", "save", "privacy",
  "necessary", "always_on", "analytics", "marketing", "functional", "customize", "close"];
const COLOR_FIELDS = ["background", "text", "primary", "primary_text"];
const preview = { frame: $("#banner-preview"), ready: false, defaults: null };

async function loadBanner() {
  // Loaded when first needed, after the listener below: its "ready" message cannot be missed.
  if (!preview.frame.getAttribute("src")) preview.frame.src = "/admin/preview";
  const s = await api("GET", "/api/v1/tracking/settings");
  state.banner = structuredClone(s.banner || {});
  state.bannerLang = state.banner.default_language || "en";
  fillBannerForm();
  $("#banner-form").dataset.loaded = "1";
}

function fillBannerForm() {
  const f = $("#banner-form");
  const b = state.banner;
  f.enabled.checked = b.enabled !== false;
  f.position.value = b.position || "bottom";
  f.default_language.value = b.default_language || "en";
  f.privacy_url.value = b.privacy_url || "";
  const c = b.colors || {};
  const dc = preview.defaults?.colors || {};
  for (const k of COLOR_FIELDS) { const v = colorInput(c[k] || dc[k]); if (v) f[`c_${k}`].value = v; }
  $("#banner-langs").replaceChildren(...["en", "es", "pt"].map((l) =>
    h("button", { type: "button", class: l === state.bannerLang ? "lang on" : "lang", onclick: () => { readBannerForm(); state.bannerLang = l; fillBannerForm(); } }, l.toUpperCase())));
  const t = (b.texts || {})[state.bannerLang] || {};
  for (const k of TEXT_FIELDS) f[`t_${k}`].value = t[k] || "";
  fillPlaceholders();
  renderPreview();
}

/** <input type=color> takes #rrggbb only; the API also allows #rgb (and #rrggbbaa, alpha dropped). */
function colorInput(v) {
  if (!/^#[0-9a-f]{3,8}$/i.test(v || "")) return null;
  return v.length === 4 ? `#${v[1]}${v[1]}${v[2]}${v[2]}${v[3]}${v[3]}` : v.slice(0, 7);
}

function fillPlaceholders() {
  const f = $("#banner-form");
  const d = preview.defaults?.texts?.[state.bannerLang] || {};
  for (const k of TEXT_FIELDS) f[`t_${k}`].placeholder = typeof d[k] === "string" ? d[k] : "";
}

function readBannerForm() {
  const f = $("#banner-form");
  const b = state.banner;
  b.enabled = f.enabled.checked;
  b.position = f.position.value;
  b.default_language = f.default_language.value;
  if (f.privacy_url.value.trim()) b.privacy_url = f.privacy_url.value.trim(); else delete b.privacy_url;
  b.colors = Object.fromEntries(COLOR_FIELDS.map((k) => [k, f[`c_${k}`].value]));
  b.texts = b.texts || {};
  const t = {};
  for (const k of TEXT_FIELDS) { const v = f[`t_${k}`].value.trim(); if (v) t[k] = v; }
  if (Object.keys(t).length) b.texts[state.bannerLang] = { ...(b.texts[state.bannerLang] || {}), ...t };
  else delete b.texts[state.bannerLang];
  for (const k of TEXT_FIELDS) if (!f[`t_${k}`].value.trim() && b.texts[state.bannerLang]) delete b.texts[state.bannerLang][k];
  return b;
}

/** The preview is banner.js itself, in a sandboxed iframe (/admin/preview.html): it gets the
 *  settings being edited and the language whose texts are being edited, and draws the banner a
 *  visitor would get, in preview mode (nothing stored or sent). */
function renderPreview() {
  const b = state.banner;
  if (!b) return;
  $("#banner-preview-lang").textContent = state.bannerLang.toUpperCase();
  $("#banner-preview-off").hidden = b.enabled !== false;
  if (preview.ready) preview.frame.contentWindow.postMessage({ type: "pixelgate-preview", banner: b, lang: state.bannerLang }, "*");
}

window.addEventListener("message", (e) => {
  // Only our own preview frame (its origin is opaque, so it is recognised by its window).
  if (e.source !== preview.frame.contentWindow || e.data?.type !== "pixelgate-preview-ready") return;
  preview.ready = true;
  preview.defaults = e.data.defaults || null;
  if (state.banner) {
    // Colours never edited yet follow banner.js's defaults; texts get its placeholders.
    if (!state.banner.colors) fillBannerForm(); else { fillPlaceholders(); renderPreview(); }
  }
});

// The frame is the visitor's browser window: say how large it is.
new ResizeObserver(() => {
  const { clientWidth: w, clientHeight: h } = preview.frame;
  $("#banner-preview-size").textContent = w ? `visitor's window: ${w} × ${h} px` : "";
}).observe(preview.frame);

$$(".preview-size .pill").forEach((btn) => btn.addEventListener("click", () => {
  for (const x of $$(".preview-size .pill")) { x.classList.toggle("on", x === btn); x.setAttribute("aria-pressed", String(x === btn)); }
  preview.frame.parentElement.classList.toggle("phone", btn.dataset.width === "390");
}));

$("#banner-form").addEventListener("input", () => { readBannerForm(); renderPreview(); });
$("#banner-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#banner-error").textContent = "";
  const banner = readBannerForm();
  try {
    const r = await api("PUT", "/api/v1/tracking/settings", { banner });
    state.banner = structuredClone(r.banner || banner);
    fillBannerForm();
    flash("Banner saved.");
  } catch (e) {
    $("#banner-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message;
  }
});

// ------------------------------------------------------------------ install

function renderInstall() {
  const snippet = `<script src="${location.origin}/t.js" data-site-key="${state.me.site_key}" async></script>`;
  $("#snippet").textContent = snippet;
  $("#site-key").textContent = state.me.site_key;
  $("#allowed-domains").textContent = (state.me.domains || []).join(", ");
}
$("#copy-snippet").addEventListener("click", async () => {
  try { await navigator.clipboard.writeText($("#snippet").textContent); flash("Snippet copied."); }
  catch { const r = document.createRange(); r.selectNodeContents($("#snippet")); getSelection().removeAllRanges(); getSelection().addRange(r); flash("Press Ctrl+C to copy."); }
});

// ------------------------------------------------------------------ security

function renderSecurity() {
  const k = state.me.api_key || {};
  const parts = [];
  parts.push(k.rotated_at ? `Last rotated ${fmtTime(k.rotated_at)}.` : "Never rotated.");
  if (k.previous_key_valid_until) parts.push(`The previous key still works until ${fmtTime(k.previous_key_valid_until)}.`);
  if (k.authenticated_with === "previous") parts.push("You are signed in with the previous key: sign in with the new one.");
  $("#key-status").textContent = parts.join(" ");
  $("#revoke-prev").hidden = !k.previous_key_valid_until;
  const n = state.me.notifications || {};
  $("#webhook").value = "";
  $("#webhook").placeholder = n.webhook_set ? `set (${n.webhook_host}) — enter a new URL to replace` : "https://hooks.slack.com/services/…";
  $("#webhook-status").textContent = n.webhook_set ? `Notifications go to ${n.webhook_host}.` : "No webhook: health check results are only shown here.";
}

async function refreshMe() { state.me = await api("GET", "/api/v1/tenants/me"); renderSecurity(); }

$("#rotate").addEventListener("click", async () => {
  const grace = Number($("#rotate-grace").value);
  if (!confirm(grace ? "Rotate the API key? The old key keeps working for the chosen grace period." : "Rotate the API key? The old key stops working at once (servers using it will get 401).")) return;
  const r = await api("POST", "/api/v1/tenants/keys/rotate", { grace_seconds: grace });
  state.key = r.api_key;
  sessionStorage.setItem(KEY, r.api_key);
  $("#new-key").hidden = false;
  $("#new-key-value").textContent = r.api_key;
  await refreshMe();
  flash("API key rotated.");
});
$("#revoke-prev").addEventListener("click", async () => {
  await api("DELETE", "/api/v1/tenants/keys/previous");
  await refreshMe();
  flash("The previous key no longer works.");
});
$("#notify-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#notify-error").textContent = "";
  const url = $("#webhook").value.trim();
  if (!url) { $("#notify-error").textContent = "Enter a webhook URL."; return; }
  try {
    await api("PUT", "/api/v1/tracking/settings/notifications", { webhook_url: url });
    await refreshMe();
    flash("Webhook saved.");
  } catch (e) { $("#notify-error").textContent = e.message; }
});
$("#webhook-clear").addEventListener("click", async () => {
  await api("PUT", "/api/v1/tracking/settings/notifications", { webhook_url: null });
  await refreshMe();
  flash("Webhook removed.");
});
$("#webhook-test").addEventListener("click", async () => {
  try {
    const r = await api("POST", "/api/v1/tracking/settings/notifications/test");
    flash(r.ok ? "Test message delivered." : `Webhook answered HTTP ${r.http_status}.`, r.ok ? "ok" : "error");
  } catch (e) { $("#notify-error").textContent = e.message; }
});

// ------------------------------------------------------------------ boot

// What the other pages' scripts use.
window.pixelgateAdmin = { api, h, $, $$, flash, ago, fmtTime, pct, niceCeil, showTab, page: registerPage, onSignIn, PLATFORM_COLORS };

// After every deferred script (the other areas register their pages first).
document.addEventListener("DOMContentLoaded", async () => {
  const saved = sessionStorage.getItem(KEY);
  if (saved) {
    try { await signIn(saved); return; } catch { /* fall through to the login form */ }
  }
  signOut();
});
