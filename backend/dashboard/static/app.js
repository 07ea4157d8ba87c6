// The dashboard's router: #/ the market, #/jobs/{id} a job, #/jobs/{id}/outputs an inference job's outputs.
// Each page reads its view once, then follows the view's event stream and redraws on every change.

import { h } from "./dom.js";
import { follow, getJson, syncClock } from "./live.js";
import { renderJob } from "./job.js";
import { renderMarket } from "./market.js";
import { renderOutputs } from "./outputs.js";

const main = document.getElementById("main");
let stop = () => {};

function show(content) {
  main.replaceChildren(content);
}

function problem(err) {
  show(h("div", { class: "page" }, h("p", { id: "problem", class: "bad" }, err.message)));
}

/** Read `url`, draw it with `render`, then redraw on every view from `stream`; `render` may be async. */
async function page(url, stream, render) {
  let latest = 0; // draws finish in order of the views they started from
  const draw = async (view) => {
    const mine = ++latest;
    syncClock(view.chain_time);
    const content = await render(view);
    if (mine === latest) show(content);
  };
  try {
    await draw(await getJson(url));
  } catch (err) {
    problem(err);
    return;
  }
  stop = follow(stream, (view) => draw(view).catch(problem));
}

function route() {
  stop();
  stop = () => {};
  const path = location.hash.replace(/^#/, "") || "/";
  let match;
  if (path === "/") {
    document.title = "Pinpoint market";
    page("/v1/market", "/v1/market/events", renderMarket);
  } else if ((match = path.match(/^\/jobs\/(\d{1,10})$/))) {
    document.title = `Pinpoint job ${match[1]}`;
    page(`/v1/jobs/${match[1]}/overview`, `/v1/jobs/${match[1]}/events`, renderJob);
  } else if ((match = path.match(/^\/jobs\/(\d{1,10})\/outputs$/))) {
    document.title = `Pinpoint job ${match[1]} outputs`;
    page(`/v1/jobs/${match[1]}/overview`, `/v1/jobs/${match[1]}/events`, outputsWhenChanged());
  } else {
    problem(new Error("no such page"));
  }
}

/** Outputs are read and proven again only when what they depend on changed (root, state, what is withheld). */
function outputsWhenChanged() {
  let key = null, content = null;
  return async (view) => {
    const job = view.job;
    const now = JSON.stringify([job.final_root, job.state, job.checkpoints.map((c) => c.state_hash === null)]);
    if (now !== key) { content = await renderOutputs(view); key = now; }
    return content;
  };
}

window.addEventListener("hashchange", route);
route();
