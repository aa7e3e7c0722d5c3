// The compare page: one photo and one set of options through several solvers (POST /api/compare), side by side,
// each drawn as it is solved, with its scores and seconds. /compare?jobs=A,B,C shows runs already made.
"use strict";

let solvers = null;

async function main() {
  solvers = await api("/api/solvers");
  const picks = $("#solver-picks");
  for (const s of solvers.solvers) {
    if (s.family === "colour") continue;
    picks.append(el("label", { class: "pick", title: s.unavailable ? `unavailable here: ${s.unavailable}` : s.description },
      el("input", { type: "checkbox", name: "solvers", value: s.name, disabled: !s.available,
        checked: solvers.compare.includes(s.name) }), ` ${s.name}`));
  }
  buildOptionsForm($("#options"), solvers, ["crop", "solver", "kit", "paper", "pin_mm"]);
  const photo = await setupPhoto(() => { $("#go").disabled = false; $("#go-hint").textContent = ""; });
  document.body.dataset.ready = "1";
  $("#go").addEventListener("click", () => submit(photo));
  const ids = (queryParam("jobs") || "").split(",").filter(Boolean);
  if (ids.length) showJobs(ids);
}

async function submit(photo) {
  showError("#form-error", "");
  const data = new FormData();
  data.append("image", photo.file());
  data.append("crop", photo.frame.value());
  data.append("kit", "false");
  const chosen = [...document.querySelectorAll("input[name=solvers]:checked")].map((i) => i.value);
  if (!chosen.length) { showError("#form-error", "pick at least one solver"); return; }
  data.append("solvers", chosen.join(","));
  formFields($("#options"), solvers, data);
  await postForm("/api/compare", data, $("#go"), "#form-error", (group) => {
    history.replaceState(null, "", `/compare?jobs=${group.jobs.map(encodeURIComponent).join(",")}`);
    showJobs(group.jobs);
  });
}

function showJobs(ids) {
  const cards = $("#cards");
  cards.replaceChildren();
  for (const id of ids) {
    const card = el("article", { class: "card job" },
      el("h3", {}, el("span", { class: "solver", text: id }), el("span", { class: "muted status", text: "" })),
      el("canvas", { class: "thread", width: 384, height: 384 }),
      el("progress", { max: 1, value: 0 }),
      el("p", { class: "progress-label muted" }),
      el("div", { class: "card-scores" }),
      el("p", { class: "links" }));
    cards.append(card);
    const view = new JobView(card, id);
    api(`/api/jobs/${encodeURIComponent(id)}`).then((job) => {
      const s = job.summary || {};
      $(".solver", card).textContent = s.solver || (job.options && job.options.solver) || id;
      $(".status", card).textContent = s.lines ? ` · ${s.lines} lines` : "";
    }).catch((err) => view.say(err.message));
    watchJob(id, {
      event: (ev) => {
        view.event(ev);
        if (ev.scores) {
          $(".card-scores", card).replaceChildren(scoresTable(ev.scores, [
            ["solver seconds", fmtSeconds(ev.seconds)],
            ["thread", ev.thread_length_m !== undefined ? `${fmt(ev.thread_length_m, 1)} m` : "–"]]));
          $(".links", card).replaceChildren(
            el("a", { href: `/?job=${encodeURIComponent(id)}`, text: "open" }), " · ",
            el("a", { href: `/wind?job=${encodeURIComponent(id)}`, text: "wind" }));
        }
      },
    });
  }
}

document.addEventListener("DOMContentLoaded", () => main().catch((err) => showError("#form-error", err.message)));
