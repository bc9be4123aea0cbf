/*! pixelgate consent banner. Loaded by t.js when the visitor has no stored choice (or on
 * pixelgate('consent','open')). Also usable directly:
 *   pixelgateBanner({c: {banner: settings}, l: "es", s: function (choice) {}, root: element})
 * Preview (/admin/preview.html): p: 1 and no s. Drawn as for a visitor, but the buttons decide
 * nothing (no choice is stored or sent) and it takes no focus or keys.
 * pixelgateBanner.defaults = {texts: {en, es, pt}, colors}: what applies where settings are unset.
 * Renders in a shadow root with its own CSS; texts via textContent only. */
(function (w, d) {
  var T = {
    en: {
      title: "We value your privacy",
      description: "We use cookies and similar technologies to run this site, measure how it is used and, with your permission, show you relevant advertising. Choose what you allow; you can change it at any time.",
      accept_all: "Accept all", reject_all: "Reject all", save: "Save choices", customize: "Choose",
      necessary: "Necessary", analytics: "Analytics", marketing: "Marketing", functional: "Functional",
      privacy: "Privacy policy", always_on: "always on", close: "Close"
    },
    es: {
      title: "Valoramos tu privacidad",
      description: "Usamos cookies y tecnologías similares para que el sitio funcione, medir su uso y, con tu permiso, mostrarte publicidad relevante. Elige qué permites; puedes cambiarlo cuando quieras.",
      accept_all: "Aceptar todo", reject_all: "Rechazar todo", save: "Guardar selección", customize: "Elegir",
      necessary: "Necesarias", analytics: "Analítica", marketing: "Marketing", functional: "Funcionales",
      privacy: "Política de privacidad", always_on: "siempre activas", close: "Cerrar"
    },
    pt: {
      title: "Valorizamos a sua privacidade",
      description: "Utilizamos cookies e tecnologias semelhantes para o site funcionar, medir a sua utilização e, com a sua permissão, mostrar publicidade relevante. Escolha o que permite; pode alterar a qualquer momento.",
      accept_all: "Aceitar tudo", reject_all: "Rejeitar tudo", save: "Guardar escolhas", customize: "Escolher",
      necessary: "Necessários", analytics: "Análise", marketing: "Marketing", functional: "Funcionais",
      privacy: "Política de privacidade", always_on: "sempre ativos", close: "Fechar"
    }
  };
  var COLORS = { background: "#ffffff", text: "#1f2937", primary: "#1a56db", primary_text: "#ffffff" };
  var PURPOSES = ["analytics", "marketing", "functional"];
  var current;

  function el(tag, attrs, text) {
    var e = d.createElement(tag);
    for (var k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function hex(v, dflt) { return /^#[0-9a-fA-F]{3,8}$/.test(v || "") ? v : dflt; }

  w.pixelgateBanner = function (ui) {
    try {
      if (current) current.close(true);
      var b = (ui.c && ui.c.banner) || {};
      var lang = T[ui.l] ? ui.l : "en";
      var t = {}, k;
      for (k in T[lang]) t[k] = T[lang][k];
      var own = (b.texts && b.texts[lang]) || {};
      for (k in own) if (typeof own[k] == "string") t[k] = own[k];
      var col = b.colors || {};
      var bg = hex(col.background, COLORS.background), fg = hex(col.text, COLORS.text),
        pr = hex(col.primary, COLORS.primary), pt = hex(col.primary_text, COLORS.primary_text);
      var pos = b.position || "bottom", inline = !!ui.root, preview = !!ui.p;
      var prev = d.activeElement;
      var choice = ui.d || {};

      var host = el("div", { "data-pixelgate-banner": "" });
      var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
      var place = {
        bottom: "left:0;right:0;bottom:0;margin:0 auto;max-width:960px;border-radius:12px 12px 0 0",
        top: "left:0;right:0;top:0;margin:0 auto;max-width:960px;border-radius:0 0 12px 12px",
        "bottom-left": "left:16px;bottom:16px;max-width:400px",
        "bottom-right": "right:16px;bottom:16px;max-width:400px",
        center: "left:50%;top:50%;transform:translate(-50%,-50%);max-width:520px"
      }[pos] || "";
      var css = ":host{all:initial}" +
        ".pg{position:" + (inline ? "absolute" : "fixed") + ";z-index:2147483647;box-sizing:border-box;" + place + ";" +
        "width:calc(100% - " + (pos == "bottom" || pos == "top" ? "0px" : "32px") + ");background:" + bg + ";color:" + fg + ";" +
        "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;padding:18px 20px;" +
        "box-shadow:0 8px 32px rgba(0,0,0,.22);border-radius:12px;max-height:90vh;overflow:auto;text-align:left}" +
        ".pg[data-pos=bottom],.pg[data-pos=top]{border-radius:" + (pos == "top" ? "0 0 12px 12px" : "12px 12px 0 0") + "}" +
        ".pg:focus{outline:none}h2{font-size:16px;font-weight:650;margin:0 0 6px;color:inherit;line-height:1.3}" +
        "p{margin:0 0 12px;color:inherit}" +
        "a{color:" + pr + ";text-decoration:underline;margin-left:4px}" +
        "fieldset{border:0;margin:0 0 14px;padding:0;display:flex;flex-wrap:wrap;gap:8px 18px}" +
        "legend{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
        "label{display:inline-flex;align-items:center;gap:6px;cursor:pointer;user-select:none}" +
        "label small{opacity:.7}" +
        "input{width:18px;height:18px;margin:0;accent-color:" + pr + ";cursor:pointer}" +
        "input:disabled{cursor:default}" +
        ".btns{display:flex;flex-wrap:wrap;gap:8px;justify-content:flex-end}" +
        "button{font:inherit;font-weight:600;border-radius:8px;padding:9px 16px;cursor:pointer;flex:1 1 auto;min-width:120px;" +
        "border:2px solid " + pr + ";background:" + pr + ";color:" + pt + "}" +
        "button.sec{background:transparent;color:" + fg + ";border-color:currentColor}" +
        "button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid " + pr + ";outline-offset:2px}" +
        "button.x{position:absolute;top:6px;right:8px;min-width:0;flex:none;padding:2px 8px;background:transparent;border:0;color:" + fg + ";font-size:20px;line-height:1}" +
        "@media (max-width:520px){.pg{left:0;right:0;bottom:0;top:auto;transform:none;max-width:none;width:100%;border-radius:12px 12px 0 0}button{flex-basis:100%}}";
      root.appendChild(el("style", {}, css));

      var box = el("div", { "class": "pg", role: "dialog", "aria-modal": "true", "aria-labelledby": "pg-t", "aria-describedby": "pg-d", lang: lang, "data-pos": pos, tabindex: "-1" });
      box.appendChild(el("h2", { id: "pg-t" }, t.title));
      var p = el("p", { id: "pg-d" }, t.description);
      if (/^https?:\/\//.test(b.privacy_url || "")) p.appendChild(el("a", { href: b.privacy_url, target: "_blank", rel: "noopener" }, t.privacy));
      box.appendChild(p);

      var fs = el("fieldset");
      fs.appendChild(el("legend", {}, t.customize));
      var nl = el("label");
      nl.appendChild(el("input", { type: "checkbox", checked: "", disabled: "", "aria-describedby": "pg-n" }));
      nl.appendChild(d.createTextNode(t.necessary + " "));
      nl.appendChild(el("small", { id: "pg-n" }, "(" + t.always_on + ")"));
      fs.appendChild(nl);
      var boxes = {};
      PURPOSES.forEach(function (name) {
        var l = el("label");
        var i = el("input", { type: "checkbox", name: name });
        i.checked = !!choice[name];
        boxes[name] = i;
        l.appendChild(i);
        l.appendChild(d.createTextNode(t[name]));
        fs.appendChild(l);
      });
      box.appendChild(fs);

      var btns = el("div", { "class": "btns" });
      function button(action, label, cls) {
        var x = el("button", { type: "button", "data-action": action }, label);
        if (cls) x.className = cls;
        btns.appendChild(x);
        return x;
      }
      button("reject", t.reject_all);
      button("save", t.save, "sec");
      button("accept", t.accept_all);
      box.appendChild(btns);
      var reopened = ui.d && ui.d.analytics != null;
      if (reopened) box.appendChild(el("button", { type: "button", "class": "x", "data-action": "close", "aria-label": t.close }, "×"));
      root.appendChild(box);

      function close(silent) {
        if (host.parentNode) host.parentNode.removeChild(host);
        d.removeEventListener("keydown", trap, true);
        if (current === api) current = null;
        if (!silent && prev && prev.focus && !inline) try { prev.focus(); } catch (e) {}
      }
      function decide(c) {
        close();
        try { ui.s(c); } catch (e) {}
      }
      btns.parentNode.addEventListener("click", function (e) {
        if (preview) return;
        var a = e.target && e.target.getAttribute && e.target.getAttribute("data-action");
        if (a == "accept") decide({ analytics: true, marketing: true, functional: true });
        else if (a == "reject") decide({ analytics: false, marketing: false, functional: false });
        else if (a == "save") decide({ analytics: boxes.analytics.checked, marketing: boxes.marketing.checked, functional: boxes.functional.checked });
        else if (a == "close") close();
      });
      function focusables() {
        return Array.prototype.filter.call(box.querySelectorAll("a[href],button,input:not([disabled])"), function (x) { return x.offsetParent !== null || x.getClientRects().length; });
      }
      // Keyboard: Tab cycles inside the dialog while it is open; Escape closes a reopened one.
      function trap(e) {
        if (e.key == "Escape" && reopened) { e.preventDefault(); return close(); }
        if (e.key != "Tab") return;
        var f = focusables(), a = root.activeElement || d.activeElement, i = f.indexOf(a);
        if (!f.length) return;
        e.preventDefault();
        var next = i < 0 ? (e.shiftKey ? f.length - 1 : 0) : (i + (e.shiftKey ? -1 : 1) + f.length) % f.length;
        f[next].focus();
      }
      (ui.root || d.body || d.documentElement).appendChild(host);
      var api = { close: close, host: host };
      current = api;
      if (!inline && !preview) {
        d.addEventListener("keydown", trap, true);
        try { box.focus({ preventScroll: true }); } catch (e) {}
      }
      return api;
    } catch (e) {}
  };
  w.pixelgateBanner.defaults = { texts: T, colors: COLORS };
  var ui = w.pixelgate && w.pixelgate._ui;
  if (ui) w.pixelgateBanner(ui);
})(window, document);
