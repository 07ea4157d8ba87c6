// Live data: a server-sent event stream per page (the same JSON as the page's read, again on every change),
// and the chain's clock, which deadlines count down against.

import { clockTime, duration, h } from "./dom.js";

let offset = 0; // chain time - browser time, in seconds, as of the latest view

/** Take the index's clock (the latest indexed block's time) from a view. */
export function syncClock(chainTime) {
  if (chainTime) offset = chainTime - Date.now() / 1000;
}

export function chainNow() {
  return Date.now() / 1000 + offset;
}

/** A deadline (block time) with a countdown that the page keeps current. */
export function countdown(deadline) {
  if (!deadline) return h("span", {}, "-");
  return h("span", { class: "deadline" }, clockTime(deadline), " ",
    h("span", { class: "countdown", "data-deadline": deadline }, remaining(deadline)));
}

function remaining(deadline) {
  const left = deadline - chainNow();
  return left > 0 ? `(in ${duration(left)})` : "(passed)";
}

setInterval(() => {
  for (const element of document.querySelectorAll(".countdown")) {
    element.textContent = remaining(Number(element.dataset.deadline));
  }
}, 1000);

/**
 * Follow `url` (an event stream): `onView(json)` for every view it sends; the status line says whether the page
 * is live. EventSource reconnects by itself after a dropped stream; a refused one (e.g. 503: too many streams)
 * is tried again after a few seconds. Returns a function that stops following.
 */
export function follow(url, onView) {
  const status = document.getElementById("live");
  let source = null, retry = null, stopped = false;
  const open = () => {
    source = new EventSource(url);
    source.onopen = () => { status.textContent = "live"; status.className = "live on"; };
    source.onmessage = (event) => onView(JSON.parse(event.data));
    source.onerror = () => {
      status.textContent = "reconnecting…";
      status.className = "live off";
      if (source.readyState === EventSource.CLOSED && !stopped) retry = setTimeout(open, 5000);
    };
  };
  open();
  return () => { stopped = true; clearTimeout(retry); source.close(); };
}

/** GET a JSON read of the API; throws an Error carrying the problem's detail. */
export async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}
