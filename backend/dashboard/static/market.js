// The market page: jobs by state, open jobs with their bids and progress, recent jobs, the latest bids, and
// who stakes what (solvers, verifiers, referees).

import { badge, h, hash, section, table } from "./dom.js";
import { countdown } from "./live.js";
import { formatEth } from "./units.js";

export function progress(done, count) {
  const bar = h("progress", { max: count || 1, value: done });
  return h("span", { class: "progress" }, bar, ` ${done}/${count}`);
}

function jobLink(id) {
  return h("a", { href: `#/jobs/${Number(id)}` }, `#${Number(id)}`);
}

/** The deadline that matters in the job's state. */
function nextDeadline(job) {
  const which = { bidding: ["bids close", job.bidding_deadline], running: ["execution", job.execution_deadline],
    submitted: ["challenge", job.challenge_deadline], disputed: ["challenge", job.challenge_deadline] }[job.state];
  return which && which[1] ? h("span", {}, `${which[0]} `, countdown(which[1])) : "-";
}

function jobRows(jobs) {
  return jobs.map((job) => h("tr", { class: "job", "data-job": job.id },
    h("td", {}, jobLink(job.id)), h("td", {}, badge(job.state)),
    h("td", { class: "money" }, formatEth(job.max_price)),
    h("td", { class: "money" }, job.price !== null ? formatEth(job.price) : job.best_bid !== null ? `best bid ${formatEth(job.best_bid)}` : "-"),
    h("td", {}, `${job.bid_count}`), h("td", {}, progress(job.checkpoints_done, job.checkpoint_count)),
    h("td", {}, nextDeadline(job))));
}

function participants(id, title, people, withLocked) {
  const headers = withLocked ? ["address", "free stake", "locked stake"] : ["address", "stake"];
  const rows = people.map((p) => h("tr", { class: "participant", "data-address": p.address }, h("td", {}, hash(p.address)),
    h("td", { class: "money stake" }, formatEth(p.stake)), withLocked ? h("td", { class: "money locked" }, formatEth(p.locked)) : null));
  return section(id, title, people.length ? table(headers, rows) : h("p", { class: "empty" }, "none registered yet"));
}

export function renderMarket(view) {
  const jobHeaders = ["job", "state", "max price", "price", "bids", "progress", "next deadline"];
  const counts = Object.entries(view.counts).sort();
  return h("div", { class: "page market" },
    h("h1", {}, "Market"),
    h("p", { id: "counts", class: "counts" }, counts.length ? counts.map(([state, n]) => h("span", { class: "count" }, badge(state), ` ${n}`)) : "no jobs yet"),
    section("open-jobs", "Open jobs", view.open_jobs.length ? table(jobHeaders, jobRows(view.open_jobs)) : h("p", { class: "empty" }, "no open jobs")),
    section("recent-jobs", "Recent jobs", view.recent_jobs.length ? table(jobHeaders, jobRows(view.recent_jobs)) : h("p", { class: "empty" }, "no jobs yet")),
    section("bids", "Latest bids", view.bids.length ? table(["job", "solver", "price", "block"], view.bids.map((bid) => h("tr", { class: "bid" },
      h("td", {}, jobLink(bid.job_id)), h("td", {}, hash(bid.solver)), h("td", { class: "money" }, formatEth(bid.price)), h("td", {}, `${bid.block_number}`)))) : h("p", { class: "empty" }, "no bids yet")),
    participants("solvers", "Solvers", view.solvers, true),
    h("div", { class: "columns" },
      participants("verifiers", "Verifiers", view.verifiers, false),
      participants("referees", "Referees", view.referees, false)));
}
