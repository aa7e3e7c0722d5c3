// The runs page: every result of the workspace, newest first (GET /api/jobs); any can be reopened, compared
// (side by side, or its photo again through the compare set of solvers) or wound.
"use strict";

async function main() {
  const data = await api("/api/jobs");
  $("#workers").textContent = `${data.ready}/${data.workers} workers ready · ${data.busy} busy · ${data.queued} queued`;
  const status = await api("/api/status");
  $("#where").textContent = `· ${status.workspace}`;
  const body = $("#runs tbody");
  $("#empty").hidden = data.jobs.length > 0;
  for (const run of data.jobs) body.append(row(run));
  $("#compare-selected").addEventListener("click", () => {
    const ids = [...document.querySelectorAll("input.pick-run:checked")].map((i) => i.value);
    location.href = `/compare?jobs=${ids.map(encodeURIComponent).join(",")}`;
  });
  body.addEventListener("change", () => {
    $("#compare-selected").disabled = document.querySelectorAll("input.pick-run:checked").length < 2;
  });
  if (data.jobs.some((r) => !FINAL.includes(r.status))) setTimeout(refresh, 2000);
}

function refresh() { location.reload(); }

function row(run) {
  const id = encodeURIComponent(run.id);
  const s = run.scores || {};
  const made = run.created ? new Date(run.created * 1000).toLocaleString() : "";
  const thumb = run.has_result ? el("img", { class: "thumb", alt: "", loading: "lazy",
    src: fileUrl(run.id, run.kit ? "preview.png" : `${run.stem || ""}.png`) }) : "";
  const wound = run.wind ? `${run.wind.done} / ${run.wind.lines}` : "";
  const actions = el("span", { class: "actions" },
    el("a", { href: `/?job=${id}`, text: "open" }),
    run.has_result ? el("a", { href: `/wind?job=${id}`, text: "wind" }) : null,
    run.has_result ? el("a", { href: `/api/jobs/${id}/kit.zip`, text: "zip" }) : null,
    run.photo ? el("button", { type: "button", class: "link", text: "compare solvers", onclick: () => compareFrom(run.id, "#error") }) : null);
  return el("tr", { class: `status-${run.status}` },
    el("td", {}, run.has_result ? el("input", { type: "checkbox", class: "pick-run", value: run.id, "aria-label": `select ${run.title}` }) : ""),
    el("td", {}, thumb),
    el("td", {}, el("a", { href: `/?job=${id}`, text: run.title || run.id }), el("div", { class: "muted small", text: run.id })),
    el("td", { title: run.error || "" }, run.status, run.error && run.status !== "done" ? el("div", { class: "muted small", text: run.error }) : ""),
    el("td", { class: "num", text: fmt(s.ssim) }),
    el("td", { class: "num", text: fmt(s.l1) }),
    el("td", { class: "num", text: run.seconds !== undefined ? fmtSeconds(run.seconds) : "–" }),
    el("td", { class: "num", text: run.thread_length_m !== undefined ? `${fmt(run.thread_length_m, 1)} m` : "–" }),
    el("td", { text: wound }),
    el("td", { class: "small", text: made }),
    el("td", {}, actions));
}


document.addEventListener("DOMContentLoaded", () => main().catch((err) => showError("#error", err.message)));
