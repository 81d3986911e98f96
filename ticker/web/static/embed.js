/* ticker embed: renders the weather ticker into a shadow root where this <script> stands.
   Load it with <script async>. It defines no globals, reserves its height before any data
   arrives, gives up after a timeout, and on any failure leaves the page as it was. */
(function () {
  "use strict";
  var ALLOWED = {
    lang: ["ko", "en"], theme: ["light", "dark", "auto"], layout: ["ticker", "list"], icons: ["off", "on"],
  };
  var DEFAULTS = { lang: "ko", theme: "light", layout: "ticker", icons: "off" };
  var STATIONS = __TICKER_STATION_COUNT__;
  var TICKER_PX = __TICKER_HEIGHT_PX__;
  var ROW_PX = __TICKER_ROW_PX__;
  var TIMEOUT_MS = 3000;

  function render(root, html) {
    try {
      var tpl = document.createElement("template");
      tpl.innerHTML = html;
      var style = tpl.content.querySelector("style");
      // A constructed sheet keeps working on host pages whose CSP forbids inline <style>.
      if (style && "adoptedStyleSheets" in root && typeof CSSStyleSheet === "function") {
        try {
          var sheet = new CSSStyleSheet();
          sheet.replaceSync(style.textContent);
          root.adoptedStyleSheets = [sheet];
          style.parentNode.removeChild(style);
        } catch (e) { /* keep the inline <style> */ }
      }
      root.appendChild(document.importNode(tpl.content, true));
    } catch (e) { /* leave the reserved box empty */ }
  }

  try {
    var script = document.currentScript;
    if (!script || !script.parentNode || !script.src || typeof fetch !== "function") return;
    var holder = document.createElement("div");
    if (typeof holder.attachShadow !== "function") return;
    var params = [];
    var layout = DEFAULTS.layout;
    Object.keys(DEFAULTS).forEach(function (name) {
      var value = script.getAttribute("data-" + name);
      if (!value || ALLOWED[name].indexOf(value) < 0) return;
      if (name === "layout") layout = value;
      if (value !== DEFAULTS[name]) params.push(name + "=" + value);
    });
    var count = STATIONS;
    var stations = script.getAttribute("data-stations");
    if (stations && /^[0-9]{1,3}(,[0-9]{1,3})*$/.test(stations)) {
      params.push("stations=" + stations);
      count = stations.split(",").length;
    }
    var timeout = parseInt(script.getAttribute("data-timeout") || "", 10);
    if (!(timeout >= 500 && timeout <= 10000)) timeout = TIMEOUT_MS;

    holder.setAttribute("data-kma-ticker", "");
    holder.style.display = "block";
    holder.style.height = (layout === "list" ? TICKER_PX + ROW_PX * count : TICKER_PX) + "px";
    holder.style.overflow = "hidden";
    script.parentNode.insertBefore(holder, script);
    var root = holder.attachShadow({ mode: "closed" });

    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, timeout);
    var url = new URL(script.src, location.href).origin + "/widget" +
      (params.length ? "?" + params.join("&") : "");
    fetch(url, { credentials: "omit", mode: "cors", signal: controller ? controller.signal : undefined })
      .then(function (resp) {
        if (!resp.ok) throw new Error("status " + resp.status);
        return resp.text();
      })
      .then(function (html) { clearTimeout(timer); render(root, html); })
      .catch(function () { clearTimeout(timer); });
  } catch (e) { /* never break the host page */ }
})();
