// The make page: a photo, its crop and the options -> POST /api/solve; the thread drawn as the solver chooses
// it (GET /api/jobs/ID/events); then the pictures, the scores and the downloads. /?job=ID reopens a run.
"use strict";

const FILE_LABELS = [
  ["template.pdf", "template (PDF, tiled 1:1)"], ["template.svg", "template (SVG, 1:1)"],
  ["instructions.pdf", "instructions (PDF)"], ["instructions.txt", "instructions (TXT)"],
  ["replay.gif", "replay (GIF)"], ["replay.mp4", "replay (MP4)"], ["stages.png", "stages (PNG)"],
  ["preview.png", "preview (PNG)"], ["preview_real.png", "realistic preview (PNG)"],
];

let solvers = null;
let current = null;  // {id, view, source}

async function main() {
  const photo = await setupPhoto(() => {
    $("#solve").disabled = !solvers;
    $("#solve-hint").textContent = "";
  });
  solvers = await api("/api/solvers");
  buildOptionsForm($("#options"), solvers, ["crop"]);
  if (photo.file()) $("#solve").disabled = false;
  document.body.dataset.ready = "1";
  $("#solve").addEventListener("click", () => submit(photo));
  $("#cancel").addEventListener("click", cancel);
  $("#to-compare").addEventListener("click", compareThis);
  showWorkers();
  const reopen = queryParam("job");
  if (reopen) follow(reopen);
}

async function showWorkers() {
  try {
    const s = await api("/api/status");
    $("#workers").textContent = s.error ? s.error : `${s.ready}/${s.workers} workers ready · ${s.busy} busy · ${s.queued} queued`;
    if (s.ready < s.workers) setTimeout(showWorkers, 1000);
  } catch (err) { $("#workers").textContent = err.message; }
}

async function submit(photo) {
  showError("#form-error", "");
  const data = new FormData();
  data.append("image", photo.file());
  data.append("crop", photo.frame.value());
  formFields($("#options"), solvers, data);
  await postForm("/api/solve", data, $("#solve"), "#form-error", (job) => {
    history.replaceState(null, "", `/?job=${encodeURIComponent(job.id)}`);
    follow(job.id);
  });
}

function follow(id) {
  if (current && current.source) current.source.close();
  $("#run").hidden = false;
  $("#result").hidden = true;
  $("#cancel").disabled = false;
  const view = new JobView($("#job"), id);
  current = { id, view };
  api(`/api/jobs/${encodeURIComponent(id)}`).then((job) => {
    const o = job.options || {};
    $("#run-title").textContent = job.summary && job.summary.title ? `· ${job.summary.title}` :
      `· ${job.image || id} · ${o.solver || ""}`;
  }).catch((err) => view.say(err.message));
  current.source = watchJob(id, {
    event: (ev) => {
      view.event(ev);
      if (ev.status === "solved" || ev.status === "done" || (ev.scores && ev.status === "interrupted")) showResult(id, ev);
      if (FINAL.includes(ev.status)) $("#cancel").disabled = true;
    },
    lost: () => view.say("the connection to the server was lost; reload the page"),
  });
}

async function cancel() {
  if (!current) return;
  $("#cancel").disabled = true;
  try {
    await api(`/api/jobs/${encodeURIComponent(current.id)}`, { method: "DELETE" });
  } catch (err) { current.view.say(err.message); }
}

function showResult(id, ev) {
  $("#result").hidden = false;
  const files = new Set([...(ev.files || []), ...(ev.kit_files || [])]);
  const stem = ev.stem;
  const stamp = `t=${Date.now()}`;
  $("#img-target").src = fileUrl(id, "target.jpg") + `?${stamp}`;
  $("#img-preview").src = fileUrl(id, files.has("preview.png") ? "preview.png" : `${stem}.png`) + `?${stamp}`;
  const real = $("#img-real");
  real.closest("figure").hidden = !files.has("preview_real.png");
  if (files.has("preview_real.png")) real.src = fileUrl(id, "preview_real.png") + `?${stamp}`;
  const scores = $("#scores");
  scores.replaceChildren(scoresTable(ev.scores, [
    ["thread", ev.thread_length_m !== undefined ? `${fmt(ev.thread_length_m, 1)} m` : "–"],
    ["lines", ev.n_lines !== undefined ? String(ev.n_lines) : "–"],
    ["solver seconds", fmtSeconds(ev.seconds)],
    ["threads", ev.palette || "–"],
  ]));
  const list = $("#files");
  const pins = stem ? [[`${stem}.txt`, "pins (TXT)"], [`${stem}.csv`, "pins and lengths (CSV)"], [`${stem}.json`, "result (JSON)"], [`${stem}.svg`, "threads (SVG)"]] : [];
  list.replaceChildren(...[...FILE_LABELS, ...pins].filter(([name]) => files.has(name)).map(([name, label]) =>
    el("li", {}, el("a", { href: fileUrl(id, name, true), download: name, text: label }))));
  const done = ev.status === "done" || ev.status === "interrupted";
  const zip = $("#zip");
  zip.href = `/api/jobs/${encodeURIComponent(id)}/kit.zip`;
  zip.classList.toggle("disabled", !done);
  zip.textContent = done ? "Download the kit (.zip)" : "the kit is being made…";
  $("#notes").textContent = [ev.note, ...(ev.kit_notes || [])].filter(Boolean).join(" · ");
  $("#to-wind").href = `/wind?job=${encodeURIComponent(id)}`;
}

async function compareThis() {
  if (current) await compareFrom(current.id, "#form-error");
}

document.addEventListener("DOMContentLoaded", () => main().catch((err) => showError("#form-error", err.message)));
