/* The embed builder: reads the choices, updates the preview and every snippet. No framework,
   no storage, no cookies; it talks to nothing but the preview frame. */
(function () {
  "use strict";
  var body = document.body;
  var origin = body.getAttribute("data-origin") || location.origin;
  var form = document.getElementById("choices");
  var preview = document.getElementById("preview");
  var TICKER_PX = parseInt(body.getAttribute("data-ticker"), 10);
  var ROW_PX = parseInt(body.getAttribute("data-row"), 10);
  var DEFAULTS = { lang: "ko", theme: "light", layout: "ticker", icons: "off" };
  var NAMES = Object.keys(DEFAULTS);

  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function choices() {
    var out = {};
    NAMES.forEach(function (name) {
      var checked = form.querySelector('input[name="' + name + '"]:checked');
      out[name] = checked ? checked.value : DEFAULTS[name];
    });
    var boxes = Array.prototype.slice.call(form.querySelectorAll('input[name="stations"]'));
    var picked = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    out.stations = picked.length === boxes.length ? null : picked;
    out.count = picked.length;
    return out;
  }

  function query(c) {
    var parts = [];
    NAMES.forEach(function (name) {
      if (c[name] !== DEFAULTS[name]) parts.push(name + "=" + c[name]);
    });
    if (c.stations) parts.push("stations=" + c.stations.join(","));
    return parts.length ? "?" + parts.join("&") : "";
  }

  // The same strip as docs/amp-example.html draws it; theme and layout are the page's own CSS.
  var AMP_TEMPLATE = '<div class="kt"><span class="kt-date">{{date}}</span> <span>{{#stations}}' +
    '<span class="kt-st"><span class="kt-cond">{{word}}</span> <span class="kt-name">{{name}}</span> ' +
    '<span class="kt-temp">{{temperature}}℃</span>{{#late}} <span class="kt-late">{{late}}</span>{{/late}}</span>' +
    '{{/stations}}</span> <span class="kt-attr">{{attribution}}</span></div>';

  function ampQuery(c) {
    var parts = [];
    if (c.lang !== DEFAULTS.lang) parts.push("lang=" + c.lang);
    if (c.stations) parts.push("stations=" + c.stations.join(","));
    return parts.length ? "?" + parts.join("&") : "";
  }

  function attrs(c, prefix) {
    var out = "";
    NAMES.forEach(function (name) {
      if (c[name] !== DEFAULTS[name]) out += " " + prefix + name + '="' + c[name] + '"';
    });
    if (c.stations) out += " " + prefix + 'stations="' + c.stations.join(",") + '"';
    return out;
  }

  function snippets(c) {
    var q = query(c);
    var height = c.layout === "list" ? TICKER_PX + ROW_PX * c.count : TICKER_PX;
    var frame = origin + "/widget/frame" + q;
    var include = '<!--# include virtual="/widget' + q + '" -->';
    // The frame's own page names the source (KMA, or simulated data); the snippet cannot know it.
    var title = c.lang === "en" ? "Weather" : "날씨";
    return {
      ssi: include,
      iframe: '<iframe src="' + esc(frame) + '" height="' + height + '" style="width:100%;border:0" title="' +
        title + '" sandbox="allow-popups"></iframe>',
      script: '<div style="min-height:' + height + 'px"><script async src="' + origin + '/embed.js"' +
        attrs(c, "data-") + "></script></div>",
      pinned: '<div style="min-height:' + height + 'px"><script async src="' + origin +
        body.getAttribute("data-pinned") + '" integrity="' + body.getAttribute("data-integrity") +
        '" crossorigin="anonymous"' + attrs(c, "data-") + "></script></div>",
      element: "<kma-ticker" + attrs(c, "") + ' style="display:block;min-height:' + height + 'px">' + include +
        '</kma-ticker>\n<script type="module" src="' + origin + body.getAttribute("data-element") + '"></script>',
      oembed: origin + "/oembed?url=" + encodeURIComponent(frame) + "&format=json",
      amp: '<!-- in <head> -->\n<script async custom-element="amp-list" src="https://cdn.ampproject.org/v0/amp-list-0.1.js"></script>\n' +
        '<script async custom-template="amp-mustache" src="https://cdn.ampproject.org/v0/amp-mustache-0.2.js"></script>\n' +
        "<!-- in <body>; style .kt-* in your <style amp-custom> -->\n" +
        '<amp-list layout="fixed-height" height="40" src="' + esc(origin + "/v1/amp" + ampQuery(c)) +
        '" credentials="omit" binding="no">\n<template type="amp-mustache">' + AMP_TEMPLATE + "</template>\n</amp-list>",
      height: height,
      frame: "/widget/frame" + q,
    };
  }

  function update() {
    var c = choices();
    var s = snippets(c);
    if (preview.getAttribute("src") !== s.frame) preview.setAttribute("src", s.frame);
    preview.setAttribute("height", String(s.height));
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-kind]"), function (area) {
      area.value = s[area.getAttribute("data-kind")];
    });
  }

  form.addEventListener("change", update);
  document.addEventListener("click", function (event) {
    var kind = event.target && event.target.getAttribute && event.target.getAttribute("data-copy");
    if (!kind) return;
    var area = document.querySelector('textarea[data-kind="' + kind + '"]');
    area.select();
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(area.value).catch(function () {});
    else document.execCommand("copy");
  });
  update();
})();
