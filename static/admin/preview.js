// The dashboard's banner preview (preview.html, served as /admin/preview, in a sandboxed iframe):
// the settings being edited are drawn by banner.js itself, so the preview is what visitors get.
// Preview mode (p: 1) stores and sends nothing; this page's CSP allows no connections either.
// Messages: from the dashboard {type: "pixelgate-preview", banner, lang}; to it, once loaded,
// {type: "pixelgate-preview-ready", defaults} (banner.js's default texts and colours).
"use strict";
(function () {
  if (typeof window.pixelgateBanner !== "function" || window.parent === window) return;
  window.addEventListener("message", function (e) {
    var m = e.data;
    if (e.source !== window.parent || !m || m.type !== "pixelgate-preview") return;
    document.documentElement.lang = m.lang || "en";
    window.pixelgateBanner({ c: { banner: m.banner || {} }, l: m.lang, p: 1 });
  });
  // The dashboard checks that this comes from its own preview frame; nothing here is secret.
  window.parent.postMessage({ type: "pixelgate-preview-ready", defaults: window.pixelgateBanner.defaults }, "*");
})();
