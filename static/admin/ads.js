// pixelgate dashboard, ads pages: performance (KPIs, daily chart, campaigns), ad accounts
// (connect, pick, status, sync, disconnect, report settings), audiences and alerts. Rendered with
// textContent only, like the rest of the dashboard; every number shown is the API's, formatted.
"use strict";

(() => {
  const { api, h, $, $$, flash, ago, fmtTime, niceCeil, page, onSignIn, PLATFORM_COLORS } = window.pixelgateAdmin;

  const ADS_NAMES = { meta: "Meta", google: "Google Ads" };
  const ADS_COLORS = { meta: PLATFORM_COLORS.meta, google: "#34a853" };
  const VALUE_COLOR = "#f59e0b";
  const DAY = 86400;

  // ---------------------------------------------------------------- formatting

  const fmtCache = {};
  function money(v, currency) {
    if (v === null || v === undefined) return "—";
    const key = currency || "";
    fmtCache[key] ||= currency
      ? new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: 2, maximumFractionDigits: 2 })
      : new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return fmtCache[key].format(v);
  }
  const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
  const decFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
  const num = (v) => (v === null || v === undefined ? "—" : Number.isInteger(v) ? intFmt.format(v) : decFmt.format(v));
  const percent = (v) => (v === null || v === undefined ? "—" : `${decFmt.format(v)} %`);
  const times = (v) => (v === null || v === undefined ? "—" : `${decFmt.format(v)}×`);
  const isoDay = (d) => d.toISOString().slice(0, 10);
  const dayOffset = (n) => isoDay(new Date(Date.now() + n * DAY * 1000));

  function gradeBadge(s) {
    if (s?.efficiency_score === undefined || s?.efficiency_score === null) return h("span", { class: "muted", title: "No impressions in this period" }, "—");
    const c = s.score_components || {};
    const part = (k, label) => (c[k] === null || c[k] === undefined ? `${label}: n/a` : `${label}: ${Math.round(c[k] * 100)} %`);
    return h("span", { class: `grade g-${s.grade}`, title: [part("ctr", "CTR"), part("conversion_rate", "Conv. rate"), part("cpa", "CPA"), part("roas", "ROAS")].join("\n"), dataset: { score: s.efficiency_score } },
      h("b", {}, s.grade), ` ${s.efficiency_score}`);
  }
  const platformChip = (p) => h("span", { class: `pf-chip ${p}` }, ADS_NAMES[p] || p);

  // ---------------------------------------------------------------- performance

  const perf = { currency: null, sort: { key: "spend", dir: -1 }, report: null, campaigns: [] };

  function presetRange(preset) {
    const today = new Date();
    const y = today.getUTCFullYear(), m = today.getUTCMonth();
    if (preset === "month") return [isoDay(new Date(Date.UTC(y, m, 1))), dayOffset(0)];
    if (preset === "last-month") return [isoDay(new Date(Date.UTC(y, m - 1, 1))), isoDay(new Date(Date.UTC(y, m, 0)))];
    const days = Number(preset) || 30;
    return [dayOffset(-(days - 1)), dayOffset(0)];
  }

  function filters() {
    const f = $("#perf-filters");
    if (!f.from.value || !f.to.value) [f.from.value, f.to.value] = presetRange(f.preset.value);
    const q = new URLSearchParams({ from: f.from.value, to: f.to.value });
    if (f.platform.value) q.set("platform", f.platform.value);
    return q;
  }

  async function loadPerformance() {
    $("#perf-error").textContent = "";
    const q = filters();
    const cq = new URLSearchParams(q);
    if ($("#perf-status").value) cq.set("status", $("#perf-status").value);
    let report, campaigns;
    try {
      [report, campaigns] = await Promise.all([api("GET", `/api/v1/ads/metrics?${q}`), api("GET", `/api/v1/ads/campaigns?${cq}`)]);
    } catch (e) {
      $("#perf-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message;
      return;
    }
    perf.report = report;
    perf.campaigns = campaigns.campaigns;
    const currencies = report.currencies.map((c) => c.currency);
    for (const c of perf.campaigns) if (!currencies.includes(c.currency)) currencies.push(c.currency);
    if (!currencies.includes(perf.currency)) {
      const biggest = [...report.currencies].sort((a, b) => b.totals.spend - a.totals.spend)[0];
      perf.currency = biggest?.currency || currencies[0] || report.default_currency;
    }
    const empty = !report.currencies.length && !perf.campaigns.length;
    $("#perf-empty").hidden = !empty;
    $("#perf-body").hidden = empty;
    $("#perf-currencies").replaceChildren(...(currencies.length > 1 ? currencies.map((c) =>
      h("button", { type: "button", class: c === perf.currency ? "pill on" : "pill", "aria-pressed": String(c === perf.currency),
        onclick: () => { perf.currency = c; renderPerformance(); } }, c)) : []));
    renderPerformance();
  }

  function currencyReport() {
    return perf.report?.currencies.find((c) => c.currency === perf.currency) || null;
  }

  function renderPerformance() {
    for (const b of $$("#perf-currencies .pill")) { const on = b.textContent === perf.currency; b.classList.toggle("on", on); b.setAttribute("aria-pressed", String(on)); }
    const rep = currencyReport();
    const cur = perf.currency;
    const t = rep?.totals || {};
    const split = (k, fmt) => (rep?.platforms || []).map((p) => `${ADS_NAMES[p.platform]} ${fmt(p[k])}`).join(" · ");
    const kpi = (key, label, value, sub = "") => h("div", { class: "kpi", dataset: { kpi: key, value: t[key] ?? "" } },
      h("div", { class: "kpi-label" }, label), h("div", { class: "kpi-value" }, value), h("div", { class: "fine" }, sub));
    $("#perf-kpis").replaceChildren(
      kpi("spend", "Spend", money(t.spend ?? 0, cur), split("spend", (v) => money(v, cur))),
      kpi("conversions", "Conversions", num(t.conversions ?? 0), split("conversions", num)),
      kpi("conversion_value", "Conversion value", money(t.conversion_value ?? 0, cur), split("conversion_value", (v) => money(v, cur))),
      kpi("roas", "ROAS", times(t.roas), "value / spend"),
      kpi("cpa", "CPA", money(t.cpa, cur), "spend / conversion"),
      h("div", { class: "kpi score", dataset: { kpi: "efficiency_score", value: t.efficiency_score ?? "" } },
        h("div", { class: "kpi-label" }, "Efficiency"), h("div", { class: "kpi-value" }, gradeBadge(t)), h("div", { class: "fine" }, "score 0–100, grade A–F")),
      kpi("impressions", "Impressions", num(t.impressions ?? 0)),
      kpi("clicks", "Clicks", num(t.clicks ?? 0)),
      kpi("ctr_percent", "CTR", percent(t.ctr_percent)),
      kpi("cpc", "CPC", money(t.cpc, cur)),
      kpi("cpm", "CPM", money(t.cpm, cur)),
      kpi("conversion_rate_percent", "Conv. rate", percent(t.conversion_rate_percent)),
    );
    // Each platform, its accounts under it, then the total: every KPI, and the score.
    const row = (label, s, attrs) => h("tr", attrs, h("td", {}, label), h("td", { dataset: { k: "spend" } }, money(s.spend, cur)),
      h("td", {}, num(s.impressions)), h("td", {}, num(s.clicks)), h("td", {}, percent(s.ctr_percent)), h("td", {}, money(s.cpc, cur)),
      h("td", {}, money(s.cpm, cur)), h("td", { dataset: { k: "conversions" } }, num(s.conversions)), h("td", {}, percent(s.conversion_rate_percent)),
      h("td", {}, money(s.cpa, cur)), h("td", {}, money(s.conversion_value, cur)), h("td", {}, times(s.roas)), h("td", { dataset: { k: "score" } }, gradeBadge(s)));
    const rows = [];
    for (const p of rep?.platforms || []) {
      rows.push(row(platformChip(p.platform), p, { class: "platform-row", dataset: { platform: p.platform } }));
      for (const a of rep.accounts.filter((x) => x.platform === p.platform)) {
        rows.push(row(h("span", { class: "sub" }, a.name || a.account_id), a, { class: "account-row", dataset: { account: a.account_id } }));
      }
    }
    if (rep) rows.push(row(h("strong", {}, "Total"), rep.totals, { class: "total", dataset: { platform: "total" } }));
    $("#perf-breakdown tbody").replaceChildren(...rows);
    renderPerfChart(rep);
    renderCampaigns();
  }

  /** Stacked bars: each platform's spend per day; line: the day's conversion value (same money axis). */
  function renderPerfChart(rep) {
    const NS = "http://www.w3.org/2000/svg";
    const s = (tag, attrs = {}) => { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
    const days = rep?.daily || [];
    const platforms = [...new Set(days.flatMap((d) => Object.keys(d.platforms)))].sort();
    // Drawn at the card's width so the text stays its size.
    const W = Math.max(560, Math.round($("#perf-chart").clientWidth || 720)), H = 250, L = 64, R = 16, T = 12, B = 30;
    const max = niceCeil(Math.max(1, ...days.map((d) => Math.max(d.spend, d.conversion_value))));
    const slot = (W - L - R) / Math.max(1, days.length);
    const x = (i) => L + i * slot;
    const y = (v) => T + (H - T - B) * (1 - v / max);
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Daily spend per platform and conversion value" });
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      svg.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
      const tx = s("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }); tx.textContent = money(v, perf.currency).replace(/\.00(?=\D*$)/, ""); svg.append(tx);
    }
    const every = Math.max(1, Math.ceil(days.length / Math.floor(W / 90)));
    days.forEach((d, i) => {
      let base = 0;
      const bw = Math.max(2, Math.min(slot * 0.7, 48));
      for (const p of platforms) {
        const v = d.platforms[p]?.spend || 0;
        if (!v) continue;
        const r = s("rect", { x: x(i) + (slot - bw) / 2, y: y(base + v), width: bw, height: Math.max(0.5, y(base) - y(base + v)), fill: ADS_COLORS[p] || "#6b7280", rx: 1.5, "data-date": d.date, "data-platform": p });
        const tt = s("title"); tt.textContent = `${d.date} · ${ADS_NAMES[p]}: ${money(v, perf.currency)} spent`; r.append(tt); svg.append(r);
        base += v;
      }
      if (i % every === 0) {
        const tx = s("text", { x: x(i) + slot / 2, y: H - 10, class: "axis", "text-anchor": "middle" });
        tx.textContent = new Date(`${d.date}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
        svg.append(tx);
      }
    });
    if (days.some((d) => d.conversion_value > 0)) {
      svg.append(s("polyline", { points: days.map((d, i) => `${x(i) + slot / 2},${y(d.conversion_value)}`).join(" "), fill: "none", stroke: VALUE_COLOR, "stroke-width": 2, "stroke-linejoin": "round", class: "value-line" }));
      days.forEach((d, i) => { if (d.conversion_value > 0) { const c = s("circle", { cx: x(i) + slot / 2, cy: y(d.conversion_value), r: 2.5, fill: VALUE_COLOR }); const tt = s("title"); tt.textContent = `${d.date}: ${money(d.conversion_value, perf.currency)} of conversion value`; c.append(tt); svg.append(c); } });
    }
    svg.append(s("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "baseline" }));
    $("#perf-chart").replaceChildren(svg);
    if (!days.some((d) => d.spend > 0 || d.conversion_value > 0)) $("#perf-chart").append(h("p", { class: "chart-empty muted" }, "No spend in this period."));
    $("#perf-legend").replaceChildren(...platforms.map((p) => h("span", {}, h("i", { style: `background:${ADS_COLORS[p]}` }), `${ADS_NAMES[p]} spend`)),
      h("span", {}, h("i", { class: "line", style: `border-color:${VALUE_COLOR}` }), "conversion value"));
  }

  const SORT_VALUE = {
    name: (c) => c.name.toLowerCase(), status: (c) => c.status,
    budget: (c) => c.daily_budget ?? c.lifetime_budget ?? -1,
  };

  function renderCampaigns() {
    const cur = perf.currency;
    const list = perf.campaigns.filter((c) => c.currency === cur);
    const { key, dir } = perf.sort;
    const val = SORT_VALUE[key] || ((c) => c[key] ?? -Infinity);
    list.sort((a, b) => { const x = val(a), y = val(b); return (x < y ? -1 : x > y ? 1 : 0) * dir || a.name.localeCompare(b.name); });
    for (const th of $$("#perf-campaigns th[data-sort]")) {
      th.setAttribute("aria-sort", th.dataset.sort === key ? (dir > 0 ? "ascending" : "descending") : "none");
    }
    $("#perf-campaign-count").textContent = list.length ? String(list.length) : "";
    $("#perf-campaigns-empty").hidden = list.length > 0;
    $("#perf-campaigns tbody").replaceChildren(...list.map((c) => h("tr", { dataset: { campaign: c.campaign_id, platform: c.platform } },
      h("td", { class: "left name-cell", title: [c.start_date && `since ${c.start_date}`, c.end_date && `until ${c.end_date}`].filter(Boolean).join(" ") }, h("div", { class: "cname" }, c.name),
        h("div", { class: "fine" }, platformChip(c.platform), " ", c.objective ? c.objective.toLowerCase().replace(/^outcome_/, "").replace(/_/g, " ") : "",
          c.end_date ? ` · ends ${c.end_date}` : "")),
      h("td", { class: "left" }, h("span", { class: `chip st-${c.status === "active" ? "delivered" : c.status === "paused" ? "retrying" : "skipped"}` }, c.status)),
      h("td", {}, c.daily_budget !== null ? [money(c.daily_budget, cur), h("span", { class: "fine" }, " /day")] : c.lifetime_budget !== null ? [money(c.lifetime_budget, cur), h("span", { class: "fine" }, " total")] : "—"),
      h("td", { dataset: { k: "spend" } }, money(c.spend, cur)), h("td", {}, num(c.impressions)), h("td", {}, num(c.clicks)), h("td", {}, percent(c.ctr_percent)),
      h("td", {}, money(c.cpc, cur)), h("td", {}, money(c.cpm, cur)), h("td", { dataset: { k: "conversions" } }, num(c.conversions)), h("td", {}, percent(c.conversion_rate_percent)),
      h("td", {}, money(c.cpa, cur)), h("td", {}, money(c.conversion_value, cur)), h("td", { dataset: { k: "roas" } }, times(c.roas)), h("td", {}, gradeBadge(c)))));
  }

  $("#perf-campaigns thead").addEventListener("click", (ev) => {
    const th = ev.target.closest("th[data-sort]");
    if (!th) return;
    const key = th.dataset.sort;
    perf.sort = perf.sort.key === key ? { key, dir: -perf.sort.dir } : { key, dir: SORT_VALUE[key] ? 1 : -1 };
    renderCampaigns();
  });
  $("#perf-filters").addEventListener("change", (ev) => {
    const f = ev.currentTarget;
    if (ev.target.name === "preset" && f.preset.value !== "custom") [f.from.value, f.to.value] = presetRange(f.preset.value);
    if (ev.target.name === "from" || ev.target.name === "to") f.preset.value = "custom";
    loadPerformance();
  });
  $("#perf-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadPerformance(); });
  $("#perf-status").addEventListener("change", () => loadPerformance());

  // ---------------------------------------------------------------- ad accounts

  const accountsState = { list: [], watch: null };

  /** Accounts that need the person: refused or expiring tokens. */
  function needsReconnect(a) {
    const soon = a.platform === "meta" && a.token_expires_at && a.token_expires_at - Date.now() / 1000 < 7 * DAY;
    if (a.status === "error") return a.last_error || "syncing fails";
    if (soon) {
      const left = a.token_expires_at - Date.now() / 1000;
      return left <= 0 ? "its access expired" : `its access expires in ${left < DAY ? `${Math.ceil(left / 3600)} h` : `${Math.floor(left / DAY)} d`}`;
    }
    return null;
  }

  function renderReconnectBanner() {
    const list = accountsState.list.map((a) => [a, needsReconnect(a)]).filter(([, why]) => why);
    const banner = $("#reconnect-banner");
    banner.hidden = list.length === 0;
    banner.replaceChildren(...list.slice(0, 3).map(([a, why]) => h("div", { class: "banner-row", dataset: { account: a.id } },
      h("strong", {}, `${ADS_NAMES[a.platform]} · ${a.name}`), ` needs reconnecting: ${why}. `,
      h("button", { class: "primary small", "data-action": "reconnect", onclick: () => connect(a.platform, a.account_id, a.login_customer_id) }, "Reconnect"))),
    ...(list.length > 3 ? [h("div", { class: "fine" }, `…and ${list.length - 3} more in Ad accounts.`)] : []));
  }

  async function refreshAccounts() {
    accountsState.list = (await api("GET", "/api/v1/ads/accounts")).accounts;
    renderReconnectBanner();
    return accountsState.list;
  }

  async function loadAccountsPage() {
    const [accounts, grants, settings] = await Promise.all([refreshAccounts(), api("GET", "/api/v1/ads/oauth/grants"), api("GET", "/api/v1/ads/settings")]);
    renderAccounts(accounts);
    renderGrants(grants.grants);
    fillSettings(settings);
  }

  function accessText(a) {
    if (a.platform === "google") return "refreshed automatically";
    if (!a.token_expires_at) return "no expiry";
    const left = a.token_expires_at - Date.now() / 1000;
    if (left <= 0) return "expired";
    return `expires in ${Math.floor(left / DAY)} d (${new Date(a.token_expires_at * 1000).toLocaleDateString()})`;
  }

  function renderAccounts(accounts) {
    $("#accounts-empty").hidden = accounts.length > 0;
    $("#accounts-table").hidden = accounts.length === 0;
    $("#accounts-count").textContent = accounts.length ? String(accounts.length) : "";
    $("#accounts-table tbody").replaceChildren(...accounts.map((a) => {
      const at = a.account_status || "unknown";
      const reconnect = needsReconnect(a);
      return h("tr", { dataset: { account: a.id, platform: a.platform, status: a.status } },
        h("td", {}, h("div", { class: "acct" }, h("span", { class: `pf-logo ${a.platform}`, "aria-hidden": "true" }, a.platform === "meta" ? "f" : "G"),
          h("div", {}, h("div", { class: "cname" }, a.name), h("div", { class: "fine mono" }, a.platform === "meta" ? `act_${a.account_id}` : a.account_id.replace(/(\d{3})(\d{3})(\d{4})/, "$1-$2-$3"),
            a.login_customer_id ? ` · via manager ${a.login_customer_id}` : "")))),
        h("td", {}, a.currency),
        h("td", { class: "status-cell" }, h("span", { class: `chip ${a.status === "active" ? "st-delivered" : "st-failed"}` }, a.status === "active" ? "connected" : "error"),
          a.last_error ? h("div", { class: "fine reason" }, a.last_error) : null),
        h("td", {}, h("span", { class: `chip ${at === "active" ? "st-delivered" : at === "unknown" ? "st-skipped" : "st-paused"}`, title: a.account_status_detail || "" }, at.replace(/_/g, " ")),
          h("div", { class: "fine" }, a.account_checked_at ? `checked ${ago(a.account_checked_at)}` : "not checked yet")),
        h("td", { class: a.platform === "meta" && a.token_expires_at && a.token_expires_at - Date.now() / 1000 < 7 * DAY ? "warn-text" : "" }, accessText(a)),
        h("td", { class: "nowrap" }, h("span", { title: fmtTime(a.last_sync_at) }, ago(a.last_sync_at))),
        h("td", { class: "actions" },
          h("button", { "data-action": "sync", onclick: (ev) => syncAccount(a, ev.currentTarget) }, "Sync now"),
          h("button", { "data-action": "reconnect", class: reconnect ? "primary" : "", onclick: () => connect(a.platform, a.account_id, a.login_customer_id) }, "Reconnect"),
          h("button", { class: "danger-text", "data-action": "disconnect", onclick: () => disconnect(a) }, "Disconnect")));
    }));
  }

  async function syncAccount(a, button) {
    button.disabled = true;
    button.textContent = "Syncing…";
    try {
      const r = await api("POST", `/api/v1/ads/sync/${encodeURIComponent(a.id)}`);
      flash(r.deferred_until ? `Sync of ${a.name} deferred: the hourly call budget is spent.` : `${a.name} synced: ${r.result.campaigns} campaigns, ${r.result.rows} campaign-days.`);
    } catch (e) {
      flash(`Sync of ${a.name} failed: ${e.message}`, "error");
    }
    await loadAccountsPage();
  }

  async function disconnect(a) {
    if (!confirm(`Disconnect ${ADS_NAMES[a.platform]} account ${a.name}? Its tokens, campaigns and audiences are removed; synced daily metrics stay as history.`)) return;
    await api("DELETE", `/api/v1/ads/accounts/${encodeURIComponent(a.id)}`);
    flash(`${a.name} disconnected.`);
    await loadAccountsPage();
  }

  /** Starts the platform's OAuth in a new window; this tab watches for the result. */
  async function connect(platform, accountId, loginId) {
    $("#connect-error").textContent = "";
    const q = new URLSearchParams();
    const account = accountId ?? $(`#connect-${platform}-account`).value.trim();
    const login = loginId ?? (platform === "google" ? $("#connect-google-login").value.trim() : "");
    if (account) q.set("account_id", account);
    if (login) q.set("login_customer_id", login);
    let r;
    try {
      // The answer sets the cookie that binds the connection to this browser.
      r = await api("GET", `/api/v1/ads/oauth/${platform}/start?${q}`, undefined, { credentials: "same-origin" });
    } catch (e) {
      $("#connect-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message;
      if (currentPage() !== "ads-accounts") flash(e.message, "error");
      return;
    }
    // The dashboard's opener policy (COOP same-origin) cuts this tab off from the platform's
    // window, so the result is watched for here, not read from that window.
    const popup = window.open(r.authorize_url, "pixelgate-oauth", "popup,width=640,height=760");
    if (!popup) { location.assign(r.authorize_url); return; }
    watchConnection(platform);
  }

  /** Until the connection shows up (a new account or accounts to pick), or for 10 minutes. */
  async function watchConnection(platform) {
    const seen = async () => {
      const [a, g] = await Promise.all([api("GET", "/api/v1/ads/accounts"), api("GET", "/api/v1/ads/oauth/grants")]);
      return `${a.accounts.map((x) => `${x.id}:${x.status}:${x.token_expires_at}`).join()}|${g.grants.map((x) => x.id).join()}`;
    };
    const before = await seen();
    const until = Date.now() + 10 * 60 * 1000;
    $("#connect-status").textContent = `Finish signing in to ${ADS_NAMES[platform]} in the other window…`;
    clearInterval(accountsState.watch);
    accountsState.watch = setInterval(async () => {
      let now;
      try { now = await seen(); } catch { return; }
      if (now === before && Date.now() < until) return;
      clearInterval(accountsState.watch);
      $("#connect-status").textContent = "";
      if (currentPage() === "ads-accounts") await loadAccountsPage(); else await refreshAccounts();
    }, 1500);
  }
  const currentPage = () => location.hash.slice(1);
  for (const b of $$("[data-connect]")) b.addEventListener("click", () => connect(b.dataset.connect));

  function renderGrants(grants) {
    $("#grants").replaceChildren(...grants.map((g) => {
      const groups = new Map();
      for (const a of g.accounts) {
        const key = a.parent ? `${g.platform === "meta" ? "Business Manager" : "Manager account"} · ${a.parent.name}` : g.platform === "meta" ? "Not in a Business Manager" : "Reached directly";
        if (!groups.has(key)) groups.set(key, []);
        groups.get(key).push(a);
      }
      const form = h("form", { class: "card pick", dataset: { grant: g.id } },
        h("div", { class: "card-head" }, h("h2", {}, `Choose the ${ADS_NAMES[g.platform]} accounts to connect`),
          h("span", { class: "fine" }, `this sign-in is kept until ${new Date(g.expires_at * 1000).toLocaleTimeString()}`)),
        ...[...groups].map(([label, list]) => {
          const all = h("input", { type: "checkbox", "aria-label": `All of ${label}` });
          const boxes = list.map((a) => h("input", { type: "checkbox", name: "account", value: a.account_id }));
          all.addEventListener("change", () => { for (const b of boxes) b.checked = all.checked; count(); });
          return h("fieldset", { class: "pick-group" }, h("legend", {}, h("label", { class: "inline" }, all, label)),
            ...list.map((a, i) => h("label", { class: "inline pick-row" }, boxes[i], h("span", {}, h("strong", {}, a.name), " ",
              h("span", { class: "mono fine" }, a.account_id), " · ", a.currency || "currency not given", a.status !== "active" ? h("span", { class: "chip st-paused" }, a.status.replace(/_/g, " ")) : ""))));
        }),
        h("div", { class: "row end" },
          h("button", { type: "button", class: "link danger-text", onclick: async () => { await api("DELETE", `/api/v1/ads/oauth/grants/${g.id}`); flash("Nothing connected."); loadAccountsPage(); } }, "Connect none"),
          h("button", { type: "submit", class: "primary", disabled: true, "data-action": "connect-picked" }, "Connect selected")),
        h("p", { class: "error", role: "alert" }));
      const count = () => {
        const n = $$("input[name=account]:checked", form).length;
        const b = $("[data-action=connect-picked]", form);
        b.disabled = n === 0;
        b.textContent = n ? `Connect ${n} account${n > 1 ? "s" : ""}` : "Connect selected";
      };
      form.addEventListener("change", count);
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const ids = $$("input[name=account]:checked", form).map((b) => b.value);
        try {
          const r = await api("POST", `/api/v1/ads/oauth/grants/${g.id}`, { account_ids: ids });
          flash(`Connected ${r.connected.map((a) => a.name).join(", ")}.`);
          loadAccountsPage();
        } catch (e) { $(".error", form).textContent = e.message; }
      });
      return form;
    }));
  }

  const META_FAMILIES = [["purchase", "Purchases"], ["lead", "Leads"], ["complete_registration", "Registrations"], ["add_to_cart", "Adds to cart"],
    ["initiate_checkout", "Checkouts started"], ["subscribe", "Subscriptions"], ["contact", "Contacts"], ["schedule", "Bookings"]];

  function fillSettings(s) {
    const f = $("#ads-settings-form");
    f.default_currency.value = s.default_currency;
    for (const k of ["target_ctr_percent", "target_conversion_rate_percent", "target_cpa", "target_roas"]) f[k].value = s[k] ?? "";
    $("#meta-actions").replaceChildren(...META_FAMILIES.map(([k, label]) => h("label", { class: "inline" },
      h("input", { type: "checkbox", name: "meta_action", value: k, checked: s.meta_conversion_actions.includes(k) }), label)));
    f.meta_other_actions.value = s.meta_conversion_actions.filter((a) => !META_FAMILIES.some(([k]) => k === a)).join(", ");
    const cm = s.customer_match_consent;
    f.cm_set.checked = !!cm;
    f.cm_ad_user_data.checked = !!cm?.ad_user_data;
    f.cm_ad_personalization.checked = !!cm?.ad_personalization;
  }

  $("#ads-settings-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    $("#ads-settings-error").textContent = "";
    const numOrNull = (v) => (v.trim() === "" ? null : Number(v));
    const actions = [...$$("input[name=meta_action]:checked", f).map((b) => b.value),
      ...f.meta_other_actions.value.split(/[\s,]+/).map((a) => a.trim()).filter(Boolean)];
    const body = {
      default_currency: f.default_currency.value.trim() || null,
      target_ctr_percent: numOrNull(f.target_ctr_percent.value), target_conversion_rate_percent: numOrNull(f.target_conversion_rate_percent.value),
      target_cpa: numOrNull(f.target_cpa.value), target_roas: numOrNull(f.target_roas.value),
      meta_conversion_actions: actions.length ? actions : null,
      customer_match_consent: f.cm_set.checked ? { ad_user_data: f.cm_ad_user_data.checked, ad_personalization: f.cm_ad_personalization.checked } : null,
    };
    try {
      fillSettings(await api("PUT", "/api/v1/ads/settings", body));
      flash("Report settings saved.");
    } catch (e) { $("#ads-settings-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message; }
  });

  // ---------------------------------------------------------------- audiences

  const aud = { list: [], editing: null, mode: "add" };

  async function loadAudiences() {
    const [list] = await Promise.all([api("GET", "/api/v1/ads/audiences"), refreshAccounts()]);
    aud.list = list.audiences;
    $("#audiences-empty").hidden = aud.list.length > 0;
    $("#audiences-table").hidden = aud.list.length === 0;
    $("#audiences-table tbody").replaceChildren(...aud.list.map(audienceRow));
  }

  function audienceRow(a) {
    const lookalike = a.kind === "lookalike";
    const size = a.platform === "google"
      ? [a.platform_size !== null ? num(a.platform_size) : "—", a.match_rate ? h("div", { class: "fine" }, `match rate ${a.match_rate}`) : null,
        a.platform_job_status && a.platform_job_status !== "success" ? h("div", { class: "fine" }, `upload ${a.platform_job_status}`) : null,
        a.upload_errors ? h("div", { class: "fine warn-text" }, `${a.upload_errors} rows refused`) : null]
      : [a.platform_size !== null ? `≈ ${num(a.platform_size)}` : "—", a.last_sync_result?.num_invalid_entries ? h("div", { class: "fine warn-text" }, `${a.last_sync_result.num_invalid_entries} invalid`) : null];
    const chip = a.sync_status === "synced" ? "st-delivered" : a.sync_status === "error" ? "st-failed" : "st-retrying";
    return h("tr", { dataset: { audience: a.id, platform: a.platform || "" } },
      h("td", {}, h("div", { class: "cname" }, a.name), lookalike ? h("div", { class: "fine" }, `lookalike ${a.lookalike_spec?.country} ${Math.round((a.lookalike_spec?.ratio || 0) * 100)} %`) : null),
      h("td", {}, a.platform ? platformChip(a.platform) : "—", h("div", { class: "fine" }, a.account_name || "")),
      h("td", { dataset: { k: "members" } }, lookalike ? "—" : num(a.member_count)),
      h("td", { class: "status-cell" }, h("span", { class: `chip ${chip}` }, a.sync_status), a.last_error ? h("div", { class: "fine reason" }, a.last_error) : null,
        a.members_changed_at && a.sync_status === "pending" && a.last_sync_at ? h("div", { class: "fine" }, "changes wait for the next sync") : null),
      h("td", { dataset: { k: "size" } }, ...size),
      h("td", {}, h("span", { title: fmtTime(a.last_sync_at) }, ago(a.last_sync_at))),
      h("td", { class: "actions" }, lookalike ? null : [
        h("button", { "data-action": "members", onclick: () => openAudience(a) }, "Members"),
        h("button", { "data-action": "sync", onclick: (ev) => syncAudience(a, ev.currentTarget) }, "Sync now"),
        a.platform === "meta" ? h("button", { "data-action": "lookalike", disabled: !a.platform_audience_id, title: a.platform_audience_id ? "" : "Sync it first", onclick: () => openLookalike(a) }, "Lookalike") : null]));
  }

  async function syncAudience(a, button) {
    button.disabled = true;
    button.textContent = "Syncing…";
    try {
      const r = await api("POST", `/api/v1/ads/audiences/${encodeURIComponent(a.id)}/sync`);
      flash(`${a.name} sent to ${ADS_NAMES[a.platform]}: ${num(r.result?.members ?? a.member_count)} members.`);
    } catch (e) { flash(`${a.name}: ${e.message}`, "error"); }
    await loadAudiences();
  }

  /** CSV or pasted lines → [{email, phone}]: a header naming email/phone columns, else each cell by its look. */
  function parseContacts(text) {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (!lines.length) return [];
    const split = (l) => l.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, ""));
    const head = split(lines[0]).map((c) => c.toLowerCase());
    const emailCol = head.findIndex((c) => /e-?mail|correo/.test(c));
    const phoneCol = head.findIndex((c) => /phone|tel|m[oó]vil|mobile/.test(c));
    const rows = emailCol >= 0 || phoneCol >= 0 ? lines.slice(1) : lines;
    return rows.map((l) => {
      const cells = split(l);
      if (emailCol >= 0 || phoneCol >= 0) return { email: cells[emailCol] || undefined, phone: cells[phoneCol] || undefined };
      const email = cells.find((c) => c.includes("@"));
      const phone = cells.find((c) => !c.includes("@") && (c.match(/\d/g) || []).length >= 6);
      return { email, phone };
    }).filter((r) => r.email || r.phone);
  }

  async function formContacts(f) {
    const file = f.csv.files[0];
    const text = `${file ? await file.text() : ""}\n${f.paste.value}`;
    return parseContacts(text);
  }

  async function previewContacts() {
    const f = $("#audience-form");
    const list = await formContacts(f);
    const emails = list.filter((r) => r.email).length, phones = list.filter((r) => r.phone).length;
    $("#aud-preview").textContent = list.length ? `${num(list.length)} contact${list.length > 1 ? "s" : ""} read: ${num(emails)} with an email, ${num(phones)} with a phone.` : "";
  }

  function setMode(mode) {
    aud.mode = mode;
    for (const b of $$("#aud-mode .pill")) { b.classList.toggle("on", b.dataset.mode === mode); b.setAttribute("aria-pressed", String(b.dataset.mode === mode)); }
    $("#audience-save").textContent = { add: "Add members", remove: "Remove members", replace: "Replace members" }[mode];
  }
  for (const b of $$("#aud-mode .pill")) b.addEventListener("click", () => setMode(b.dataset.mode));

  async function openAudience(a) {
    aud.editing = a || null;
    const f = $("#audience-form");
    f.reset();
    $("#audience-error").textContent = "";
    $("#aud-preview").textContent = "";
    if (!accountsState.list.length) await refreshAccounts();
    f.ads_account_id.replaceChildren(...accountsState.list.map((x) => h("option", { value: x.id }, `${ADS_NAMES[x.platform]} · ${x.name}`)));
    $("#aud-title").textContent = a ? `Members of ${a.name}` : "New audience";
    f.name.closest("label").hidden = !!a;
    f.ads_account_id.closest("label").hidden = !!a;
    f.name.required = !a;
    $("#aud-mode").hidden = !a;
    if (a) setMode("add"); else $("#audience-save").textContent = "Create";
    if (!a && !accountsState.list.length) $("#audience-error").textContent = "Connect an ad account first (Ad accounts).";
    $("#audience-dialog").showModal();
  }

  $("#audience-form").addEventListener("input", previewContacts);
  $("#audience-form").addEventListener("change", previewContacts);
  $("#audience-cancel").addEventListener("click", () => $("#audience-dialog").close());
  $("#new-audience").addEventListener("click", () => openAudience(null));
  $("#audience-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    $("#audience-error").textContent = "";
    const members = await formContacts(f);
    const country = f.default_country.value || undefined;
    if (!members.length && !(aud.editing && aud.mode === "replace")) { $("#audience-error").textContent = "Upload a CSV or paste at least one email or phone number."; return; }
    if (aud.editing && aud.mode === "replace" && !confirm(`Replace every member of ${aud.editing.name} with these ${members.length}?`)) return;
    try {
      let r;
      const path = aud.editing && `/api/v1/ads/audiences/${encodeURIComponent(aud.editing.id)}/members`;
      if (!aud.editing) r = await api("POST", "/api/v1/ads/audiences", { name: f.name.value.trim(), ads_account_id: f.ads_account_id.value, members, default_country: country });
      else if (aud.mode === "replace") r = await api("PUT", path, { members, default_country: country });
      else r = await api("PATCH", path, { [aud.mode]: members, default_country: country });
      const issues = r.issues?.length ? ` ${r.issues.length} row${r.issues.length > 1 ? "s" : ""} could not be used (${r.issues[0].message}).` : "";
      $("#audience-dialog").close();
      flash(!aud.editing ? `Audience created with ${num(r.member_count)} members.${issues}`
        : aud.mode === "replace" ? `Members replaced: ${num(r.member_count)}.${issues}`
          : `${aud.mode === "add" ? `Added ${r.added}` : `Removed ${r.removed}`}; ${num(r.member_count)} members. Sent to the platform at the next sync.${issues}`);
      loadAudiences();
    } catch (e) { $("#audience-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message; }
  });

  function openLookalike(a) {
    aud.editing = a;
    const f = $("#lookalike-form");
    f.reset();
    $("#lal-ratio-out").textContent = "1 %";
    $("#lookalike-error").textContent = "";
    $("#lal-source").textContent = `People most like the members of ${a.name}, found by Meta in one country.`;
    $("#lookalike-dialog").showModal();
  }
  $("#lookalike-form").ratio.addEventListener("input", (ev) => { $("#lal-ratio-out").textContent = `${ev.target.value} %`; });
  $("#lookalike-cancel").addEventListener("click", () => $("#lookalike-dialog").close());
  $("#lookalike-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    try {
      const r = await api("POST", `/api/v1/ads/audiences/${encodeURIComponent(aud.editing.id)}/lookalike`, { country: f.country.value.trim(), ratio: Number(f.ratio.value) / 100 });
      $("#lookalike-dialog").close();
      flash(`Lookalike ${r.name} created.`);
      loadAudiences();
    } catch (e) { $("#lookalike-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message; }
  });

  // ---------------------------------------------------------------- alerts

  const ALERT_NAMES = {
    budget_low: "Budget almost spent", budget_utilization: "Budget utilization", low_ctr: "Low CTR", high_cpc: "High CPC",
    low_conversion_rate: "Low conversion rate", negative_roi: "ROI below zero", performance_drop: "Performance drop",
    high_value_conversion: "High-value conversion", account_status: "Account not active", sync_failing: "Sync failing",
  };
  // Each rule: its threshold, how the form shows it (percent of a fraction, or as is) and what it means.
  const RULES = [
    ["budget_remaining_fraction", "Budget almost spent", "less of today's budget left than", "%", 100],
    ["budget_utilization_fraction", "Budget utilization", "more of the budget used than (7 days or lifetime)", "%", 100],
    ["low_ctr_percent", "Low CTR", "CTR over the last 7 days below", "%", 1],
    ["high_cpc", "High CPC", "cost per click over 7 days above", "", 1],
    ["low_conversion_rate_percent", "Low conversion rate", "conversions per click over 7 days below", "%", 1],
    ["min_roas", "ROI below zero", "ROAS over 7 days below", "×", 1],
    ["performance_drop_fraction", "Performance drop", "conversions or ROAS down week on week by", "%", 100],
    ["high_value_conversion", "High-value conversion", "a single conversion worth at least", "", 1],
  ];
  const MINS = [
    ["min_impressions_for_ctr", "Impressions before CTR is judged"], ["min_clicks_for_cpc", "Clicks before CPC is judged"],
    ["min_clicks_for_conversion_rate", "Clicks before the conversion rate is judged"], ["min_conversions_for_drop", "Conversions in the earlier week for a drop"],
    ["min_spend_for_roi", "Spend before ROI is judged"],
  ];
  const alertsState = { thresholds: null };

  async function loadAlerts() {
    const [r] = await Promise.all([api("GET", "/api/v1/ads/alerts"), refreshAccounts()]);
    const accountName = (platform, id) => accountsState.list.find((a) => a.platform === platform && a.account_id === id)?.name || `account ${id}`;
    alertsState.thresholds = r.thresholds;
    $("#alerts-empty").hidden = r.alerts.length > 0;
    $("#alerts-table").hidden = r.alerts.length === 0;
    $("#alerts-count").textContent = r.alerts.length ? String(r.alerts.length) : "";
    $("#alerts-table tbody").replaceChildren(...r.alerts.map((a) => h("tr", { dataset: { kind: a.kind } },
      h("td", { class: "fine nowrap", title: fmtTime(a.created_at) }, ago(a.created_at)),
      h("td", {}, h("span", { class: `alert-kind k-${a.kind}` }, ALERT_NAMES[a.kind] || a.kind)),
      h("td", {}, a.platform ? platformChip(a.platform) : null, " ", a.campaign_name || (a.account_id ? accountName(a.platform, a.account_id) : "conversion")),
      h("td", { class: "reason" }, a.message),
      h("td", {}, h("span", { class: `chip ${a.delivered === "sent" ? "st-delivered" : a.delivered === "failed" ? "st-failed" : "st-skipped"}` }, a.delivered.replace("_", " "))))));
    const recent = r.alerts.filter((a) => a.created_at > Date.now() / 1000 - DAY).length;
    $("#alerts-badge").hidden = !recent;
    $("#alerts-badge").textContent = String(recent);
    fillThresholds(r.thresholds, r.notification_webhook_url);
  }

  function fillThresholds(t, webhook) {
    $("#threshold-rules").replaceChildren(...RULES.map(([k, label, meaning, unit, scale]) => {
      const on = t[k] !== null && t[k] !== undefined;
      const input = h("input", { type: "number", name: k, step: "any", min: "0", value: on ? +(t[k] * scale).toFixed(4) : "", disabled: !on, "aria-label": `${label} threshold` });
      const toggle = h("input", { type: "checkbox", name: `${k}_on`, checked: on, "aria-label": `${label} on` });
      toggle.addEventListener("change", () => { input.disabled = !toggle.checked; if (toggle.checked && !input.value) input.focus(); });
      return h("div", { class: "rule", dataset: { rule: k } },
        h("label", { class: "rule-name" }, toggle, h("span", {}, h("strong", {}, label), h("span", { class: "fine" }, meaning))),
        h("div", { class: "rule-value" }, input, h("span", { class: "unit" }, unit)));
    }));
    $("#threshold-mins").replaceChildren(...MINS.map(([k, label]) => h("label", { class: "min-row" }, label, h("input", { type: "number", name: k, min: "0", step: "any", value: t[k] }))));
    $("#thresholds-form").notification_webhook_url.value = webhook || "";
  }

  $("#thresholds-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.currentTarget;
    $("#thresholds-error").textContent = "";
    const body = {};
    for (const [k, , , , scale] of RULES) body[k] = f[`${k}_on`].checked && f[k].value !== "" ? +(Number(f[k].value) / scale).toFixed(6) : null;
    for (const [k] of MINS) body[k] = Number(f[k].value);
    body.notification_webhook_url = f.notification_webhook_url.value.trim() || null;
    try {
      const r = await api("PUT", "/api/v1/ads/alerts/thresholds", body);
      fillThresholds(r.thresholds, r.notification_webhook_url);
      flash("Alert rules saved.");
    } catch (e) { $("#thresholds-error").textContent = e.field ? `${e.field}: ${e.message}` : e.message; }
  });

  // ---------------------------------------------------------------- pages

  page("ads-performance", { load: loadPerformance });
  page("ads-accounts", { load: loadAccountsPage, poll: loadAccountsPage, every: 30000 });
  page("ads-audiences", { load: loadAudiences, poll: loadAudiences, every: 30000 });
  page("ads-alerts", { load: loadAlerts });
  // The reconnect banner shows on every page.
  onSignIn.push(() => { refreshAccounts().catch(() => {}); });
})();
