// A job's page: its facts and spec, a timeline with live deadlines, the loss curve, the checkpoints with their
// leaves and the on-chain roots (rebuilt here from the leaves), the sample and each verifier's audit, each
// dispute's bisection round by round, payouts, and the job's chain events.

import { badge, clockTime, h, hash, s, section, table } from "./dom.js";
import { countdown } from "./live.js";
import { progress } from "./market.js";
import { bytesToHex, checkpointLeaf, rootOfLeaves } from "./proofs.js";
import { formatEth } from "./units.js";

const FINAL_STATES = ["finalized", "unverified", "slashed", "cancelled", "failed"];
const MAX_TREE_CHECK = 4096; // leaves rebuilt in the browser at most
const MONEY_ARGS = new Set(["maxPrice", "price", "requiredStake", "amount", "solverPayout", "submitterRefund", "stake", "added", "bond"]);

export function renderJob(view) {
  const job = view.job;
  return h("div", { class: "page job" },
    h("h1", {}, `Job #${job.id} `, h("span", { id: "job-state" }, badge(job.state))),
    h("div", { class: "columns" }, facts(view), timeline(view)),
    h("div", { class: "columns" }, isInference(view) ? null : lossCurve(job), payouts(job)),
    checkpoints(view), audit(view), disputes(view), spec(view), history(view));
}

function isInference(view) {
  return view.spec && view.spec.kind === "inference";
}

function facts(view) {
  const job = view.job;
  const rows = [
    ["kind", isInference(view) ? "inference" : view.spec ? "training" : "unknown (spec not stored here)"],
    ["spec hash", hash(job.spec_hash)],
    ["submitter", hash(job.submitter)],
    ["solver", job.solver ? hash(job.solver) : "-"],
    ["max price", h("span", { id: "max-price", class: "money" }, formatEth(job.max_price))],
    ["price", h("span", { id: "price", class: "money" }, formatEth(job.price))],
    ["required stake", h("span", { class: "money" }, formatEth(job.required_stake))],
    [isInference(view) ? "outputs committed" : "checkpoints", progress(job.checkpoints_done, job.checkpoint_count)],
  ];
  if (!isInference(view)) rows.push(["checkpoint interval", `${job.checkpoint_interval} steps`]);
  if (!isInference(view)) rows.push(["final loss", job.final_loss === null ? "-" : job.final_loss.toFixed(4)]);
  const list = h("dl", { id: "facts", class: "facts" }, rows.map(([key, value]) => [h("dt", {}, key), h("dd", {}, value)]));
  const outputs = isInference(view) ? h("p", {}, h("a", { id: "outputs-link", href: `#/jobs/${Number(job.id)}/outputs` },
    "Outputs, each proven against the final root in this browser →")) : null;
  return section("summary", "Summary", list, outputs);
}

// --- timeline ------------------------------------------------------------------------------------------

function timeline(view) {
  const job = view.job;
  const first = (...names) => view.history.find((e) => names.includes(e.name));
  const bids = view.history.filter((e) => e.name === "BidPlaced").length;
  const outcome = first("JobFinalized", "JobUnverified", "JobFailed", "JobCancelled");
  const slashed = job.state === "slashed" ? first("DisputeSettled") : null;
  const steps = [
    { key: "posted", label: "Posted: bidding open", event: first("JobPosted"),
      deadlines: [["bids close", job.bidding_deadline]], detail: `${bids} bid${bids === 1 ? "" : "s"}` },
    { key: "awarded", label: "Awarded: running", event: first("JobAwarded"),
      deadlines: [["execution deadline", job.execution_deadline]],
      detail: job.solver ? ["to ", hash(job.solver), ` at ${formatEth(job.price)}`] : null },
    { key: "submitted", label: "Result submitted", event: first("ResultSubmitted"),
      detail: job.final_root ? ["final root ", hash(job.final_root)] : null },
    { key: "sealed", label: "Sample sealed: under review", event: first("SampleSealed"),
      deadlines: [["audit commits until", view.commit_deadline], ["challenge window ends", job.challenge_deadline]],
      detail: view.sampled_intervals ? `intervals ${view.sampled_intervals.join(", ")} sampled` : null },
  ];
  if (first("JobDisputed")) steps.push({ key: "disputed", label: "Disputed", event: first("JobDisputed"), detail: `${job.disputes.length} dispute(s)` });
  steps.push({ key: "outcome", label: FINAL_STATES.includes(job.state) ? `Ended: ${job.state}` : "Finalized (or unverified)",
    event: slashed || outcome, detail: null });
  const current = steps.findIndex((step) => !step.event);
  const active = current === -1 ? steps.length : current - 1; // the step whose deadlines still count down
  const items = steps.map((step, i) => h("li", {
    class: `step ${step.event ? "done" : i === current ? "current" : "pending"}`, "data-step": step.key },
  h("span", { class: "label" }, step.label),
  step.event ? h("span", { class: "when" }, ` at ${clockTime(step.event.time)} (block ${step.event.block_number})`) : null,
  step.detail ? h("div", { class: "detail" }, step.detail) : null,
  (step.deadlines || []).filter(([, at]) => at).map(([label, at]) => h("div", { class: "detail" }, `${label} `,
    i === active ? countdown(at) : clockTime(at)))));
  return section("timeline", "Timeline", h("ol", { class: "timeline" }, items));
}

// --- loss curve ----------------------------------------------------------------------------------------

function lossCurve(job) {
  const points = job.checkpoints.filter((c) => c.loss !== null).map((c) => ({ step: c.step, loss: c.loss }));
  if (!points.length) return section("loss", "Loss", h("p", { class: "empty" }, "no loss reported yet"));
  const width = 640, height = 220, left = 56, right = 16, top = 12, bottom = 32;
  const maxStep = Math.max(job.checkpoint_count * job.checkpoint_interval, ...points.map((p) => p.step));
  let low = Math.min(...points.map((p) => p.loss)), high = Math.max(...points.map((p) => p.loss));
  if (high === low) { high += 0.5; low -= 0.5; }
  const pad = (high - low) * 0.08;
  low -= pad; high += pad;
  const x = (step) => left + (step / maxStep) * (width - left - right);
  const y = (loss) => top + (1 - (loss - low) / (high - low)) * (height - top - bottom);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": "training loss by step" },
    s("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, class: "axis" }),
    s("line", { x1: left, y1: top, x2: left, y2: height - bottom, class: "axis" }),
    s("text", { x: left - 6, y: y(high - pad) + 4, class: "tick end" }, (high - pad).toFixed(3)),
    s("text", { x: left - 6, y: y(low + pad) + 4, class: "tick end" }, (low + pad).toFixed(3)),
    s("text", { x: left, y: height - bottom + 16, class: "tick" }, "0"),
    s("text", { x: width - right, y: height - bottom + 16, class: "tick end" }, `step ${maxStep}`),
    s("polyline", { points: points.map((p) => `${x(p.step)},${y(p.loss)}`).join(" "), class: "loss-line" }),
    points.map((p) => s("circle", { cx: x(p.step), cy: y(p.loss), r: 3.5, class: "loss-point", "data-step": p.step, "data-loss": p.loss },
      s("title", {}, `step ${p.step}: loss ${p.loss}`))));
  return section("loss", "Loss", svg, h("p", { class: "caption" }, "mean training loss of each interval, at the checkpoint that ends it"));
}

// --- checkpoints and roots -----------------------------------------------------------------------------

/** Whether the reported leaves rebuild the on-chain final root, recomputed here (and each leaf from its state hash when shown). */
function treeCheck(job) {
  if (!job.final_root) return h("span", { id: "tree-check", class: "pending" }, "no final root on chain yet");
  const byIndex = new Map(job.checkpoints.map((c) => [c.index, c]));
  if (job.checkpoint_count + 1 > MAX_TREE_CHECK) return h("span", { id: "tree-check" }, "too many leaves to rebuild here");
  for (let i = 0; i <= job.checkpoint_count; i++) {
    if (!byIndex.has(i)) return h("span", { id: "tree-check", class: "pending" }, `leaf ${i} not reported yet`);
  }
  const leaves = [];
  for (const c of job.checkpoints) {
    if (c.state_hash && bytesToHex(checkpointLeaf(job.id, c.index, c.step, c.state_hash)) !== c.leaf) {
      return h("span", { id: "tree-check", class: "bad" }, `leaf ${c.index} is not the hash of its state`);
    }
    leaves.push(c.leaf);
  }
  const ok = bytesToHex(rootOfLeaves(leaves)) === job.final_root.toLowerCase();
  return h("span", { id: "tree-check", class: ok ? "ok" : "bad" },
    ok ? `the ${leaves.length} leaves rebuild the final root (checked in this browser)` : "the leaves do not rebuild the final root");
}

function checkpoints(view) {
  const job = view.job;
  const roots = h("dl", { class: "facts" },
    h("dt", {}, "progress root (on chain)"), h("dd", {}, hash(job.progress_root, { id: "progress-root" })),
    h("dt", {}, "final root (on chain)"), h("dd", {}, hash(job.final_root, { id: "final-root" })),
    h("dt", {}, "leaves → root"), h("dd", {}, treeCheck(job)));
  const withheld = "withheld until the audit's commit window ends";
  const rows = job.checkpoints.map((c) => h("tr", { class: "checkpoint", "data-index": c.index },
    h("td", {}, `${c.index}`), h("td", {}, `${c.step}`), h("td", {}, c.loss === null ? "-" : c.loss.toFixed(4)),
    h("td", {}, hash(c.leaf, { class: "hash leaf" })),
    h("td", {}, c.state_hash ? hash(c.state_hash, { class: "hash state-hash" }) : h("span", { class: "withheld" }, withheld)),
    h("td", {}, c.artifact ? hash(c.artifact) : "-")));
  return section("checkpoints", isInference(view) ? "Leaves (leaf 0: the model; leaf k: input k-1 and its output)" : "Checkpoints",
    roots, rows.length ? table(["#", "step", "loss", "leaf", "state hash", "artifact"], rows) : h("p", { class: "empty" }, "none reported yet"));
}

// --- audit ---------------------------------------------------------------------------------------------

function audit(view) {
  const job = view.job;
  const sample = h("p", { id: "sample" }, view.sampled_intervals
    ? `Sampled intervals (0-based): ${view.sampled_intervals.join(", ")}`
    : "The sample is drawn on chain once the final root is in.");
  const deadline = view.commit_deadline ? h("p", {}, "Drawn verifiers commit until ", countdown(view.commit_deadline)) : null;
  const entries = view.audits.map((a) => h("tr", { class: "audit", "data-verifier": a.verifier },
    h("td", {}, hash(a.verifier)), h("td", {}, a.committed ? "yes" : "no"), h("td", {}, a.revealed ? "yes" : "no"),
    h("td", { class: `verdict ${a.agreed === true ? "ok" : a.agreed === false ? "bad" : ""}` },
      a.agreed === true ? "approved" : a.agreed === false ? `disagreed from interval ${a.first_mismatch}` : "-"),
    h("td", {}, a.outcome || "-"), h("td", { class: "money" }, formatEth(a.amount))));
  const verdicts = job.verdicts.map((v) => h("tr", { class: "verdict-report", "data-verifier": v.verifier },
    h("td", {}, hash(v.verifier)), h("td", {}, `${v.interval}`),
    h("td", { class: v.agrees ? "ok" : "bad" }, v.agrees ? "agrees" : "disagrees"),
    h("td", { class: "detail-text" }, v.detail), h("td", {}, new Date(v.created_at).toLocaleTimeString([], { hour12: false }))));
  return section("audit", "Sample and audit", sample, deadline,
    h("h3", {}, "Audit entries (on chain)"),
    entries.length ? table(["verifier", "committed", "revealed", "verdict", "settled", "amount"], entries) : h("p", { class: "empty" }, "no verifier has committed yet"),
    h("h3", {}, "Verifiers' reports"),
    verdicts.length ? table(["verifier", "interval", "replay", "detail", "reported"], verdicts) : h("p", { class: "empty" }, "none yet"));
}

// --- disputes ------------------------------------------------------------------------------------------

function bisection(dispute) {
  const rounds = dispute.bisection;
  const width = 640, row = 26, left = 70, right = 16;
  const lo0 = rounds[0].lo, hi0 = rounds[0].hi, span = Math.max(1, hi0 - lo0);
  const x = (step) => left + ((step - lo0) / span) * (width - left - right);
  return s("svg", { viewBox: `0 0 ${width} ${rounds.length * row + 20}`, class: "chart bisection", role: "img",
    "aria-label": "the disputed interval, round by round" },
  rounds.map((r, i) => [
    s("text", { x: 4, y: i * row + 17, class: "tick" }, `round ${r.round}`),
    s("rect", { x: x(r.lo), y: i * row + 4, width: Math.max(2, x(r.hi) - x(r.lo)), height: row - 10, class: "round",
      "data-lo": r.lo, "data-hi": r.hi }, s("title", {}, `steps ${r.lo}..${r.hi}`)),
    r.points.map((p) => s("line", { x1: x(p), x2: x(p), y1: i * row + 2, y2: i * row + row - 4, class: "point" })),
  ]),
  s("text", { x: left, y: rounds.length * row + 14, class: "tick" }, `step ${lo0}`),
  s("text", { x: width - right, y: rounds.length * row + 14, class: "tick end" }, `step ${hi0}`));
}

function disputes(view) {
  if (!view.disputes.length) return null;
  return section("disputes", "Disputes", view.disputes.map((d) => {
    const result = d.solver_won === null ? d.phase : d.solver_won ? "the solver won" : "the solver lost";
    const head = h("h3", {}, `Dispute #${d.id} (${d.kind}) `, badge(d.phase), ` ${result}`);
    const who = h("p", {}, "challenger ", hash(d.challenger));
    if (d.kind === "availability") {
      return h("div", { class: "dispute", "data-dispute": d.id }, head, who, h("p", {}, `the checkpoint at step ${d.lo} was demanded on chain`));
    }
    if (d.kind === "genesis") {
      return h("div", { class: "dispute", "data-dispute": d.id }, head, who, h("p", {}, "the initial state was questioned: the referees recompute it from the spec"));
    }
    const rows = d.bisection.map((r) => h("tr", { class: "round-row" }, h("td", {}, `${r.round}`), h("td", {}, `${r.lo}`), h("td", {}, `${r.hi}`),
      h("td", {}, r.points.length ? `${r.points.length} (${r.points[0]}..${r.points[r.points.length - 1]})` : "-"),
      h("td", {}, r.segment === null ? "-" : `segment ${r.segment}`)));
    return h("div", { class: "dispute", "data-dispute": d.id }, head, who,
      d.bisection.length ? bisection(d) : null,
      table(["round", "lo (agreed)", "hi (disputed)", "points revealed", "challenger disputed"], rows),
      h("p", {}, `now ${d.lo}..${d.hi}: ${d.hi - d.lo === 1 ? "one step, for the referees" : "bisecting"}`));
  }));
}

// --- payouts, spec, history ----------------------------------------------------------------------------

function payouts(job) {
  return section("payouts", "Payouts", h("dl", { class: "facts" },
    h("dt", {}, "solver payout"), h("dd", { id: "solver-payout", class: "money" }, formatEth(job.solver_payout)),
    h("dt", {}, "submitter refund"), h("dd", { id: "submitter-refund", class: "money" }, formatEth(job.submitter_refund)),
    h("dt", {}, "slashed"), h("dd", { id: "slashed", class: "money" }, formatEth(job.slashed))));
}

function spec(view) {
  if (!view.spec) return section("spec", "Spec", h("p", { class: "empty" }, "not stored with this coordinator"));
  const sp = view.spec, model = sp.model || {};
  const facts = [["model", `${model.name}`], ...Object.entries(model).filter(([k]) => k !== "name").map(([k, v]) => [k, JSON.stringify(v)])];
  if (sp.kind === "inference") facts.push(["inputs", `${sp.inputs?.count} rows, artifact 0x${sp.inputs?.sha256}`], ["weights", `0x${sp.weights?.sha256}`]);
  else facts.push(["dataset", `${sp.dataset?.name}`], ["steps", `${sp.steps}`], ["batch size", `${sp.batch_size}`],
    ["optimizer", `${sp.optimizer?.name} lr ${sp.optimizer?.lr}`], ["seed", `${sp.seed}`]);
  return section("spec", "Spec",
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("details", {}, h("summary", {}, "the spec as posted (JSON)"), h("pre", { id: "spec-json" }, JSON.stringify(sp, null, 2))));
}

function history(view) {
  const rows = view.history.slice().reverse().map((e) => h("tr", { class: "event" },
    h("td", {}, `${e.block_number}`), h("td", {}, clockTime(e.time)), h("td", {}, `${e.contract}.${e.name}`),
    h("td", { class: "args" }, Object.entries(e.args).filter(([k]) => k !== "jobId")
      .map(([k, v]) => `${k}=${MONEY_ARGS.has(k) ? formatEth(v) : String(v)}`).join("  "))));
  return section("history", "Chain events", rows.length ? table(["block", "time", "event", "arguments"], rows) : h("p", { class: "empty" }, "none yet"));
}
