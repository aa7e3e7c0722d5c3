// The wind page: the pin to go to in large type and the next few, the frame with the current line over the work
// done so far, blocks of 100 lines with the thread used, spool changes announced. The place is kept on the
// server (POST /api/jobs/ID/wind) in the same <result>.wind.json that `bench wind` reads and writes.
"use strict";

const BACK_KEYS = new Set(["ArrowLeft", "ArrowUp", "Backspace", "b", "B", "PageUp", "p"]);
const IGNORED_KEYS = new Set(["Shift", "Control", "Alt", "Meta", "Tab", "CapsLock", "Escape", "F5", "F11", "F12",
  "NumLock", "ScrollLock", "ContextMenu", "OS"]);

const state = { id: null, w: null, done: 0, saving: Promise.resolve(), lock: null };

async function main() {
  state.id = queryParam("job");
  if (!state.id) { showError("#error", "no run given: open the wind page from a run (/wind?job=ID)"); return; }
  state.w = await api(`/api/jobs/${encodeURIComponent(state.id)}/wind`);
  state.done = state.w.done;
  $("#title").textContent = state.w.title;
  $("#progress-file").textContent = state.w.progress_file;
  $("#bar").max = state.w.lines;
  $("#speak").checked = localStorage.getItem("wind-speak") === "1";
  $("#speak").addEventListener("change", () => localStorage.setItem("wind-speak", $("#speak").checked ? "1" : "0"));
  $("#next").addEventListener("click", (e) => { e.stopPropagation(); move(+1); });
  $("#back").addEventListener("click", (e) => { e.stopPropagation(); move(-1); });
  $("#advance").addEventListener("click", () => move(+1));
  $("#goto").addEventListener("change", () => {
    const line = Number($("#goto").value);
    if (line >= 1 && line <= state.w.lines) go(line - 1);
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("visibilitychange", keepAwake);
  keepAwake();
  if (state.w.note) showError("#error", state.w.note);
  render();
}

function onKey(e) {
  if (e.target && (e.target.tagName === "INPUT" || e.target.tagName === "SELECT")) return;
  if (e.ctrlKey || e.metaKey || e.altKey || IGNORED_KEYS.has(e.key)) return;
  e.preventDefault();
  if (BACK_KEYS.has(e.key)) move(-1); else move(+1);
}

function move(step) { go(state.done + step); }

function go(done) {
  const before = state.done;
  state.done = Math.max(0, Math.min(state.w.lines, done));
  if (state.done === before) return;
  render();
  if (state.done > before) announce();
  const body = JSON.stringify({ done: state.done });
  // one save at a time, in order: the file always ends at the last place shown
  state.saving = state.saving.then(() => api(`/api/jobs/${encodeURIComponent(state.id)}/wind`,
    { method: "POST", headers: { "Content-Type": "application/json" }, body })
    .then(() => showError("#error", ""))
    .catch((err) => showError("#error", `not saved: ${err.message}`)));
}

function line(k) { return [state.w.pairs[2 * k], state.w.pairs[2 * k + 1]]; }

function spoolChangeAt(k) {
  const c = state.w.colours;
  return k > 0 && k < c.length && c[k] !== c[k - 1];
}

function render() {
  const w = state.w;
  const k = state.done;
  $("#bar").value = k;
  if (k >= w.lines) {
    const [, last] = line(w.lines - 1);
    $("#where").textContent = `all ${w.lines} lines wound · tie off at pin`;
    $("#pin").textContent = String(last);
    $("#upcoming").textContent = "done";
  } else {
    const [a, b] = line(k);
    const first = k === 0 || spoolChangeAt(k);
    $("#where").textContent = first ? `${w.colour_names.length > 1 ? `spool ${w.colour_names[w.colours[k]]}: ` : ""}tie on at pin ${a}, then to pin` : `from pin ${a} to pin`;
    $("#pin").textContent = String(b);
    const next = [];
    for (let j = k + 1; j < Math.min(w.lines, k + 6); j++) {
      if (spoolChangeAt(j)) { next.push(`switch to spool ${w.colour_names[w.colours[j]]}`); break; }
      next.push(String(line(j)[1]));
    }
    if (k + 6 > w.lines && next.length < 5) next.push("tie off");
    $("#upcoming").textContent = next.join(" › ");
  }
  const spool = $("#spool");
  const c = w.colours[Math.min(k, w.lines - 1)];
  spool.hidden = w.colour_names.length < 2;
  spool.textContent = `spool: ${w.colour_names[c]}`;
  spool.style.borderColor = w.colour_hex[c];
  const block = w.blocks.find(([, first, last]) => first <= Math.min(k, w.lines - 1) && Math.min(k, w.lines - 1) <= last);
  const used = k ? w.running_m[k - 1] : 0;
  $("#block").textContent = block ?
    `block ${block[0]} of ${w.blocks.length} · line ${Math.min(k + 1, w.lines)} of ${w.lines} (${Math.min(k, w.lines - 1) - block[1] + 1} of this block)` : "";
  const end = block ? w.running_m[block[2]] : used;
  $("#thread").textContent = `thread ${used.toFixed(1)} m of ${w.running_m[w.lines - 1].toFixed(1)} m · this block ends at ${end.toFixed(1)} m · ${(100 * k / w.lines).toFixed(1)} %`;
  drawFrame();
}

function drawFrame() {
  const w = state.w;
  const canvas = $("#frame");
  const side = Math.min(1200, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1))) || 640;
  canvas.width = canvas.height = side;
  const ctx = canvas.getContext("2d");
  const half = w.frame_mm / 2;
  const pad = side * 0.04;
  const k = (side - 2 * pad) / w.frame_mm;
  const at = (p) => [pad + (w.pins_mm[p][0] + half) * k, pad + (w.pins_mm[p][1] + half) * k];
  ctx.fillStyle = w.board_hex;
  ctx.fillRect(0, 0, side, side);
  // the work done so far: each spool's lines in its colour, thin
  ctx.lineWidth = Math.max(0.6, side / 1400);
  ctx.globalAlpha = 0.35;
  for (let j = 0; j < state.done; j++) {
    const [a, b] = line(j);
    ctx.strokeStyle = w.colour_hex[w.colours[j]];
    ctx.beginPath(); ctx.moveTo(...at(a)); ctx.lineTo(...at(b)); ctx.stroke();
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = "#8a8f98";
  for (let p = 0; p < w.pins_mm.length; p++) {
    const [x, y] = at(p);
    ctx.beginPath(); ctx.arc(x, y, Math.max(1.5, side / 400), 0, 2 * Math.PI); ctx.fill();
  }
  if (state.done < w.lines) {
    const [a, b] = line(state.done);
    ctx.strokeStyle = "#e8442e";
    ctx.lineWidth = Math.max(3, side / 180);
    ctx.beginPath(); ctx.moveTo(...at(a)); ctx.lineTo(...at(b)); ctx.stroke();
    for (const [p, fill] of [[a, "#ffffff"], [b, "#e8442e"]]) {
      const [x, y] = at(p);
      ctx.beginPath(); ctx.arc(x, y, Math.max(6, side / 70), 0, 2 * Math.PI);
      ctx.fillStyle = fill; ctx.fill(); ctx.strokeStyle = "#e8442e"; ctx.lineWidth = 3; ctx.stroke();
    }
  }
}

function announce() {
  const w = state.w;
  const k = state.done;
  let text;
  if (k >= w.lines) text = `All ${w.lines} lines wound. Tie off.`;
  else if (spoolChangeAt(k)) text = `Switch to spool ${w.colour_names[w.colours[k]]}. Pin ${line(k)[1]}`;
  else text = String(line(k)[1]);
  if (spoolChangeAt(k)) showError("#error", `spool change: ${w.colour_names[w.colours[k]]}`);
  if (!$("#speak").checked || !("speechSynthesis" in window)) return;
  speechSynthesis.cancel();
  speechSynthesis.speak(new SpeechSynthesisUtterance(text));
}

async function keepAwake() {
  if (!("wakeLock" in navigator)) { $("#awake").textContent = "(this browser cannot keep the screen on)"; return; }
  if (document.visibilityState !== "visible" || (state.lock && !state.lock.released)) return;
  try {
    state.lock = await navigator.wakeLock.request("screen");
    $("#awake").textContent = "screen kept on";
  } catch (err) {
    $("#awake").textContent = `(screen may sleep: ${err.message})`;
  }
}

window.addEventListener("resize", () => { if (state.w) drawFrame(); });
document.addEventListener("DOMContentLoaded", () => main().catch((err) => showError("#error", err.message)));
