/*! pixelgate tag: <script src="https://TRACKING_HOST/t.js" data-site-key="pk_…" async></script> */
(function (w, d, n) {
  var P = w.pixelgate;
  if (P && P.v) return;
  var noop = function () {};
  function safe(f) {
    return function () {
      try { return f.apply(this, arguments); } catch (e) { /* never into the host page */ }
    };
  }
  var S = d.currentScript || d.querySelector("script[data-site-key]");
  var SK = S && S.getAttribute("data-site-key");
  if (!SK) return;
  var BASE = S.src.replace(/\/t\.js([?#].*)?$/, "");
  var API = BASE + "/api/v1/tracking/";
  var Q = (P && P.q) || [];
  var OPT = { lang: S.getAttribute("data-lang"), auto: S.getAttribute("data-auto") != "off", pixels: S.getAttribute("data-pixels") != "off" };
  var F = "function";

  function store(t, k, v) {
    try {
      var s = w[t + "Storage"];
      if (v === undefined) return JSON.parse(s.getItem(k));
      v === null ? s.removeItem(k) : s.setItem(k, JSON.stringify(v));
    } catch (e) {}
  }
  function cookie(k) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + k + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : undefined;
  }
  function rnd(b) { return crypto.getRandomValues(new Uint8Array(b)); }
  function uuid() {
    var b = rnd(16), h = "";
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    for (var i = 0; i < 16; i++) h += (b[i] + 256).toString(16).slice(1) + ([3, 5, 7, 9].indexOf(i) >= 0 ? "-" : "");
    return h;
  }
  function now() { return Date.now(); }
  function g(x) { return x ? "granted" : "denied"; }
  function post(path, body) {
    return fetch(API + path + "?site_key=" + SK, { method: "POST", body: JSON.stringify(body), keepalive: true, credentials: "include", headers: { "content-type": "text/plain" } });
  }

  // ---------------------------------------------------------------- state
  var C = store("local", "pg_c"); // {a,m,f,v,tc}: the visitor's choice
  if (!C) {
    var pc = /^([01])([01])([01])\.(.*)$/.exec(cookie("pg_consent") || "");
    if (pc) C = { a: pc[1] == 1, m: pc[2] == 1, f: pc[3] == 1, v: pc[4] };
  }
  var VID = store("local", "pg_vid") || uuid();
  var CFG, ready = 0, hold = 0, queue = [], timer, tcf = typeof w.__tcfapi == F;
  // Attribution: persisted only with consent, session-scoped until a choice.
  var A = store("local", "pg_a") || store("session", "pg_a") || {};
  var sp = new URLSearchParams(location.search);
  var fbclid = sp.get("fbclid");
  if (fbclid && (!A.fbc || A.fbc.split(".").slice(3).join(".") != fbclid)) A.fbc = "fb.1." + now() + "." + fbclid;
  ["gclid", "gbraid", "wbraid", "ttclid", "li_fat_id"].forEach(function (k) { var v = sp.get(k); if (v) A[k] = v; });
  var utm = {}, hasUtm;
  ["source", "medium", "campaign", "term", "content", "id"].forEach(function (k) { var v = sp.get("utm_" + k); if (v) { utm[k] = v; hasUtm = 1; } });
  if (hasUtm) { A.lt = utm; A.ft = A.ft || utm; }
  function persist() {
    if (C && (C.a || C.m)) { store("local", "pg_a", A); store("session", "pg_a", null); }
    else if (C) { store("local", "pg_a", null); store("session", "pg_a", null); A = {}; }
    else store("session", "pg_a", A);
  }
  persist();

  function fbp() {
    return cookie("_fbp") || A.fbp || (A.fbp = "fb.1." + now() + "." + (1e9 + (new Uint32Array(rnd(4).buffer)[0] % 9e9)));
  }
  // What may leave the browser now: the choice, else the tenant's default, else nothing yet.
  function eff() {
    var dft = CFG && CFG.consent_default;
    return C || (dft && (dft.analytics || dft.marketing) ? { a: dft.analytics, m: dft.marketing } : null);
  }

  // ---------------------------------------------------------------- browser pixels
  // Canonical name → [Meta, Google, TikTok] (the server's table, so both sides deduplicate).
  var NAMES = {
    page_view: ["PageView", 0, "Pageview"], lead: ["Lead", "generate_lead", "SubmitForm"],
    signup: ["CompleteRegistration", "sign_up", "CompleteRegistration"], add_to_cart: ["AddToCart", "add_to_cart", "AddToCart"],
    purchase: ["Purchase", "purchase", "PlaceAnOrder"], contact: ["Contact", "contact", "Contact"],
    schedule: ["Schedule", "book_appointment", "Schedule"], view_content: ["ViewContent", "view_item", "ViewContent"]
  };
  var pixels = safe(function (ev, c, o) {
    if (!OPT.pixels) return;
    var nm = NAMES[ev.event_name], id = ev.event_id, cd = ev.custom_data || {}, k, p;
    if (c.m) {
      if (typeof w.fbq == F) nm ? w.fbq("track", nm[0], cd, { eventID: id }) : w.fbq("trackCustom", ev.event_name, cd, { eventID: id });
      if (w.ttq && typeof w.ttq.track == F) w.ttq.track(nm ? nm[2] : ev.event_name, cd, { event_id: id });
      if (typeof w.lintrk == F && o.li_conversion_id) w.lintrk("track", { conversion_id: o.li_conversion_id, event_id: id });
      // LinkedIn rules: the events of their list (x: all but those of it).
      for (k in VT) {
        p = VT[k];
        if (p.c && (p.e.indexOf(ev.event_name) < 0) == p.x) w.lintrk("track", { conversion_id: p.c, event_id: id });
      }
    }
    // gtag's config already sends its own page_view.
    if (c.a && typeof w.gtag == F && (!nm || nm[1])) w.gtag("event", nm ? nm[1] : ev.event_name, Object.assign({ event_id: id }, cd));
  });

  // Platforms' own tags: once, after the matching consent (Google's: analytics), behind their queues.
  var VT = {};
  function js(src) {
    var s = d.createElement("script");
    s.src = src;
    s.async = true;
    d.head.appendChild(s);
  }
  var tags = safe(function (c) {
    ((CFG && CFG.pixels) || []).forEach(function (p) {
      var k = p.p + p.id, f = p.p == "google";
      if (VT[k] || !(f ? c.a : c.m)) return;
      VT[k] = p;
      if (p.p == "meta") {
        if (!w.fbq) {
          f = w.fbq = function () { f.callMethod ? f.callMethod.apply(f, arguments) : f.queue.push(arguments); };
          f.push = f; f.loaded = !0; f.version = "2.0"; f.queue = [];
          js(p.src);
        }
        w.fbq("init", p.id);
      } else if (f) {
        f = w.dataLayer = w.dataLayer || [];
        if (typeof w.gtag != F) { w.gtag = function () { f.push(arguments); }; w.gtag("js", new Date()); }
        w.gtag("config", p.id);
        js(p.src);
      } else if (p.p == "linkedin") {
        (w._linkedin_data_partner_ids = w._linkedin_data_partner_ids || []).push(p.id);
        if (!w.lintrk) { f = w.lintrk = function (a, b) { f.q.push([a, b]); }; f.q = []; js(p.src); }
      } else {
        f = w.ttq = w.ttq || [];
        w.TiktokAnalyticsObject = "ttq";
        ["track", "grantConsent", "revokeConsent"].forEach(function (m) {
          f[m] = f[m] || function () { f.push([m].concat([].slice.call(arguments))); };
        });
        [["_i", []], ["_t", now()], ["_o", {}]].forEach(function (x) { (f[x[0]] = f[x[0]] || {})[p.id] = x[1]; });
        f._i[p.id]._u = p.src.split("?")[0];
        js(p.src);
      }
    });
  });

  // ---------------------------------------------------------------- sending
  function send(events) {
    var url = API + "events/batch?site_key=" + SK, body = JSON.stringify({ events: events });
    try { if (n.sendBeacon && n.sendBeacon(url, body)) return; } catch (e) {}
    fetch(url, { method: "POST", body: body, keepalive: true, credentials: "include", headers: { "content-type": "text/plain" } }).catch(noop);
  }
  var flush = safe(function () {
    timer = 0;
    var c = eff();
    if (!ready || hold || !c) return;
    tags(c);
    if (!queue.length) return;
    var out = [];
    queue.splice(0, 100).forEach(function (q) {
      var ev = q[0];
      if (!c.a && !c.m) return; // rejected everything: nothing leaves the browser
      ev.visitor_id = VID;
      if (c.m) {
        ev.click_ids = { fbc: cookie("_fbc") || A.fbc, fbp: fbp(), gclid: A.gclid, gbraid: A.gbraid, wbraid: A.wbraid, ttclid: A.ttclid, ttp: cookie("_ttp"), li_fat_id: A.li_fat_id || cookie("li_fat_id") };
      } else delete ev.user_data;
      if (c.a) (ev.click_ids = ev.click_ids || {}).ga_client_id = cookie("_ga");
      if (A.lt) {
        ev.utm = {};
        for (var k in A.lt) ev.utm["utm_" + k] = A.lt[k];
        for (k in A.ft) ev.utm["first_utm_" + k] = A.ft[k];
      }
      pixels(ev, c, q[1]);
      out.push(ev);
    });
    if (out.length) send(out);
    if (queue.length) flush();
  });
  function later() { if (!timer) timer = setTimeout(flush, 0); }

  function track(name, custom, user, o) {
    if (!name) return;
    o = o || {};
    var ev = {
      event_id: o.event_id || uuid(), event_name: String(name), event_time: Math.floor(now() / 1000),
      url: location.href.slice(0, 2048), custom_data: custom || undefined, user_data: user || undefined
    };
    var ref = o.referrer !== undefined ? o.referrer : d.referrer;
    if (ref) ev.referrer = String(ref).slice(0, 2048);
    queue.push([ev, o]);
    later();
    return ev.event_id;
  }

  // ---------------------------------------------------------------- consent
  function lang() {
    var b = (CFG && CFG.banner) || {}, l = [OPT.lang, d.documentElement.lang].concat(n.languages || [n.language]);
    for (var i = 0; i < l.length; i++) {
      var x = String(l[i] || "").slice(0, 2).toLowerCase();
      if (/^(es|en|pt)$/.test(x)) return x;
    }
    return b.default_language || "en";
  }
  function signals() {
    if (!C) return;
    if (typeof w.gtag == F) w.gtag("consent", "update", { ad_storage: g(C.m), ad_user_data: g(C.m), ad_personalization: g(C.m), analytics_storage: g(C.a), functionality_storage: g(C.f), personalization_storage: g(C.f) });
    if (typeof w.fbq == F) w.fbq("consent", C.m ? "grant" : "revoke");
    if (w.ttq && w.ttq.grantConsent) C.m ? w.ttq.grantConsent() : w.ttq.revokeConsent();
  }
  var save = safe(function (c, tc) {
    var v = (CFG && CFG.consent_version) || (C && C.v) || "1";
    C = { a: !!c.analytics, m: !!c.marketing, f: !!c.functional, v: String(v), tc: tc };
    var body = { visitor_id: VID, analytics: C.a, marketing: C.m, functional: C.f, version: C.v };
    if (tc) body.tc_string = tc;
    if (C.m) { body.fbp = fbp(); body.fbc = cookie("_fbc") || A.fbc; }
    store("local", "pg_c", C);
    persist();
    safe(signals)();
    // Events wait until the consent is stored: the server routes them by it.
    hold = 1;
    post("consent", body).catch(noop).then(function () { hold = 0; flush(); });
  });
  function ui() {
    var c = C || {};
    return { c: CFG || {}, l: lang(), d: { analytics: c.a, marketing: c.m, functional: c.f }, s: save, api: API };
  }
  var open = safe(function () {
    if (tcf) return;
    P._ui = ui();
    if (typeof w.pixelgateBanner == F) return w.pixelgateBanner(P._ui);
    js(BASE + "/banner.js");
  });
  var decide = safe(function () {
    if (!ready || CFG === undefined) return;
    if (tcf) {
      w.__tcfapi("addEventListener", 2, safe(function (t, ok) {
        if (!ok || !t || (t.eventStatus != "tcloaded" && t.eventStatus != "useractioncomplete")) return;
        var p = (t.purpose && t.purpose.consents) || {}, all = t.gdprApplies === false;
        if (C && C.tc && C.tc == t.tcString) return;
        // TCF purposes: 1 store/access, 2-4 and 7 ads, 8-9 measurement, 10 improve services.
        save({ analytics: all || (p[1] && (p[8] || p[9])), marketing: all || (p[1] && p[2] && p[3] && p[4] && p[7]), functional: all || (p[1] && p[10]) }, t.tcString);
      }));
    } else if ((!C || (CFG && CFG.consent_version && C.v != CFG.consent_version)) && !(CFG && CFG.banner && CFG.banner.enabled === false)) open();
    flush();
  });

  // ---------------------------------------------------------------- boot
  P = w.pixelgate = safe(function (cmd, a, b, c, e) {
    if (cmd == "track") return track(a, b, c, e);
    if (cmd == "page") return track("page_view", a, b, c);
    if (cmd == "config") { for (var k in a) OPT[k] = a[k]; return; }
    if (cmd == "consent") {
      if (a == "open") return open();
      if (a == "update") return save(b || {});
      if (a == "get") return C ? { analytics: C.a, marketing: C.m, functional: C.f, version: C.v } : null;
    }
  });
  P.v = 1;
  P.q = [];
  Q.forEach(function (args) { P.apply(w, args); });
  safe(signals)();

  var q = "?site_key=" + SK + "&vid=" + VID + (C && C.m ? "&fbp=" + encodeURIComponent(fbp()) + (A.fbc ? "&fbc=" + encodeURIComponent(A.fbc) : "") : "");
  var idDone = safe(function (j) {
    if (ready) return;
    if (j && j.visitor_id) {
      VID = j.visitor_id;
      // A choice stored server-side (cookie cleared locally, another tab): no banner again.
      if (!C && j.consent) C = { a: j.consent.analytics, m: j.consent.marketing, f: j.consent.functional, v: j.consent.version };
      if (j.fbp) A.fbp = j.fbp;
      persist();
      if (C) store("local", "pg_c", C);
    }
    store("local", "pg_vid", VID);
    ready = 1;
    decide();
  });
  fetch(API + "id" + q, { credentials: "include" }).then(function (r) { return r.json(); }).then(idDone, function () { idDone(); });
  setTimeout(idDone, 3000);
  fetch(API + "config?site_key=" + SK).then(function (r) { return r.json(); }).then(safe(function (j) { CFG = j && j.banner ? j : null; decide(); }), function () { CFG = null; decide(); });

  // Automatic page views, SPA navigations included.
  var last = location.href.split("#")[0];
  if (OPT.auto) track("page_view");
  var nav = safe(function () {
    var h = location.href.split("#")[0];
    if (h == last || !OPT.auto) return;
    track("page_view", 0, 0, { referrer: last });
    last = h;
  });
  ["pushState", "replaceState"].forEach(function (m) {
    var orig = history[m];
    history[m] = function () { var r = orig.apply(this, arguments); setTimeout(nav, 0); return r; };
  });
  w.addEventListener("popstate", nav);
  w.addEventListener("pagehide", flush);
})(window, document, navigator);
