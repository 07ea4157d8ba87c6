// Building the page from data other parties wrote (spec fields, verdict details, event arguments): every
// string becomes a text node, never markup. Elements are made with `h`, attributes set one by one.

const SVG = "http://www.w3.org/2000/svg";

function build(element, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.setAttribute("class", value);
    else if (key === "href") element.setAttribute("href", safeHref(value));
    else if (key.startsWith("on")) throw new Error("no inline handlers: use addEventListener");
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("td", {class: "hash"}, text, child, ...). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, the same way. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** Only links within the dashboard or this origin's API: nothing a hostile string could turn into a script URL. */
function safeHref(value) {
  const href = String(value);
  return /^(#\/|\/)/.test(href) && !href.startsWith("//") ? href : "#/";
}

export function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((name) => h("th", {}, name)))), h("tbody", {}, rows));
}

export function section(id, title, ...children) {
  return h("section", { id, class: "card" }, h("h2", {}, title), ...children);
}

export function hash(value, attrs = {}) {
  return h("code", { class: "hash", ...attrs }, value ?? "-");
}

export function badge(state) {
  return h("span", { class: `badge state-${String(state).replace(/[^a-z]/g, "")}` }, state);
}

/** "1h 02m 03s", "4m 05s", "7s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const hours = Math.floor(s / 3600), minutes = Math.floor((s % 3600) / 60), rest = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return hours ? `${hours}h ${pad(minutes)}m ${pad(rest)}s` : minutes ? `${minutes}m ${pad(rest)}s` : `${rest}s`;
}

export function clockTime(timestamp) {
  return timestamp ? new Date(timestamp * 1000).toLocaleTimeString([], { hour12: false }) : "-";
}
