/* <kma-ticker>: the weather ticker as a custom element (version 1 of its attributes and parts).

     <kma-ticker stations="108,159" lang="ko" theme="light" layout="ticker" icons="off">
       ...server-rendered fallback: the /widget fragment, shown as it is without JavaScript...
     </kma-ticker>
     <script type="module" src="https://ticker.example/kma-ticker.v1.js"></script>

   The element renders the ticker into its shadow root, so the page's CSS cannot reach inside;
   it styles through CSS custom properties and ::part(). Until the fresh ticker arrives (and if
   it never does) the fallback content stays on show, in the same reserved height. */
const ALLOWED = {
  lang: ["ko", "en"], theme: ["light", "dark", "auto"], layout: ["ticker", "list"], icons: ["off", "on"],
};
const DEFAULTS = { lang: "ko", theme: "light", layout: "ticker", icons: "off" };
const STATION_LIST = /^[0-9]{1,3}(,[0-9]{1,3}){0,63}$/;
const ORIGIN = new URL(import.meta.url).origin;
const TIMEOUT_MS = 3000;
// The parts a page may style with kma-ticker::part(name), and where they are.
const PARTS = {
  strip: ".kma-ticker", date: ".kt-date", station: ".kt-st", word: ".kt-cond", name: ".kt-name",
  temp: ".kt-temp", attribution: ".kt-attr", toggle: ".kt-toggle",
};
// Custom properties a page may set on the element; each falls back to the theme's own value.
const PROPERTIES = `.kma-ticker{color:var(--kma-ticker-color,var(--kt-fg));background:var(--kma-ticker-background,var(--kt-bg));border-bottom-color:var(--kma-ticker-line,var(--kt-line));font-family:var(--kma-ticker-font,"Apple SD Gothic Neo","Malgun Gothic",NanumGothic,sans-serif)}
.kma-ticker .kt-date{color:var(--kma-ticker-accent,var(--kt-accent))}
.kma-ticker .kt-cond,.kma-ticker .kt-attr{color:var(--kma-ticker-muted,var(--kt-muted))}`;

function query(el) {
  const params = [];
  for (const name of Object.keys(DEFAULTS)) {
    const value = el.getAttribute(name);
    if (value && ALLOWED[name].includes(value) && value !== DEFAULTS[name]) params.push(`${name}=${value}`);
  }
  const stations = (el.getAttribute("stations") || "").replace(/\s+/g, "");
  if (stations && STATION_LIST.test(stations)) params.push(`stations=${stations}`);
  return params.length ? `?${params.join("&")}` : "";
}

function sheet(text) {
  const s = new CSSStyleSheet();
  s.replaceSync(text);
  return s;
}

class KmaTicker extends HTMLElement {
  static observedAttributes = ["stations", ...Object.keys(DEFAULTS)];

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: "open" });
      // The fallback content shows through the slot until the ticker is rendered.
      root.innerHTML = "<style>:host{display:block}</style><slot></slot>";
    }
    this.load();
  }

  attributeChangedCallback() {
    if (this.shadowRoot) this.load();
  }

  load() {
    const url = `${ORIGIN}/widget${query(this)}`;
    if (url === this.loading) return;
    this.loading = url;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    fetch(url, { credentials: "omit", mode: "cors", signal: controller.signal })
      .then((resp) => {
        if (!resp.ok) throw new Error(`status ${resp.status}`);
        return resp.text();
      })
      .then((html) => {
        if (url === this.loading) this.render(html);
      })
      .catch(() => { /* keep what is shown */ })
      .finally(() => clearTimeout(timer));
  }

  render(html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html;
    const style = tpl.content.querySelector("style");
    const sheets = [sheet(":host{display:block}")];
    if (style) {
      sheets.push(sheet(style.textContent));
      style.remove();
    }
    sheets.push(sheet(PROPERTIES));
    for (const [part, selector] of Object.entries(PARTS)) {
      for (const node of tpl.content.querySelectorAll(selector)) node.setAttribute("part", part);
    }
    this.shadowRoot.adoptedStyleSheets = sheets;
    this.shadowRoot.replaceChildren(tpl.content);
  }
}

if (!customElements.get("kma-ticker")) customElements.define("kma-ticker", KmaTicker);
