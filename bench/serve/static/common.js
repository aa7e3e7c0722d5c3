// bench serve: what the four pages share. Plain JavaScript, no library; every page is a client of the JSON API
// (docs/serve.md), and holds no logic the API lacks.
"use strict";

const FINAL = ["done", "failed", "cancelled", "interrupted"];

// ------------------------------------------------------------------ DOM and API helpers
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function $(sel, root) { return (root || document).querySelector(sel); }

async function api(path, options) {
  const resp = await fetch(path, options);
  const kind = resp.headers.get("content-type") || "";
  const body = kind.includes("json") ? await resp.json() : null;
  if (!resp.ok) throw new Error((body && body.error) || `${resp.status} ${resp.statusText}`);
  return body;
}

function showError(where, message) {
  const box = typeof where === "string" ? $(where) : where;
  if (!box) return;
  box.textContent = message || "";
  box.hidden = !message;
}

function fmt(value, digits) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toFixed(digits === undefined ? 3 : digits);
}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 90) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function fileUrl(id, name, download) {
  return `/api/jobs/${encodeURIComponent(id)}/files/${encodeURIComponent(name)}${download ? "?download=1" : ""}`;
}

function queryParam(name) { return new URLSearchParams(location.search).get(name); }

// POST a form to the API with its button disabled meanwhile; the answer goes to onAnswer, an error to errorAt
async function postForm(path, data, button, errorAt, onAnswer) {
  button.disabled = true;
  try {
    onAnswer(await api(path, { method: "POST", body: data }));
  } catch (err) {
    showError(errorAt, err.message);
  } finally {
    button.disabled = false;
  }
}

// the other default solvers on a finished job's photo and options: a compare group, opened on its page
async function compareFrom(jobId, errorAt) {
  const data = new FormData();
  data.append("from_job", jobId);
  data.append("kit", "false");
  try {
    const group = await api("/api/compare", { method: "POST", body: data });
    location.href = `/compare?jobs=${group.jobs.map(encodeURIComponent).join(",")}`;
  } catch (err) { showError(errorAt, err.message); }
}

// ------------------------------------------------------------------ the thread, drawn as it is chosen
// The solver's thread model is source-over blending: each pass turns a pixel toward the thread's colour by
// opacity x coverage (C <- C (1 - a) + c a). A canvas stroke of the thread's width with globalAlpha = opacity
// does the same, its anti-aliasing standing for the coverage.
class ThreadCanvas {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.picture = null;
    this.lines = 0;
  }

  setup(picture) {
    this.picture = picture;
    const side = Math.min(1024, Math.max(256, Math.round(this.canvas.clientWidth * (window.devicePixelRatio || 1))));
    this.canvas.width = side;
    this.canvas.height = side;
    this.k = side / picture.canvas;
    this.clear();
  }

  clear() {
    const { ctx, canvas, picture } = this;
    ctx.globalAlpha = 1;
    ctx.fillStyle = picture ? picture.board : "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    this.lines = 0;
    if (!picture) return;
    ctx.fillStyle = "#9aa0a6";
    const r = Math.max(1, this.k * picture.canvas / 400);
    for (const [x, y] of picture.pins_xy) {
      ctx.beginPath();
      ctx.arc(x * this.k, y * this.k, r, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  // threads: [[colour, [pin, pin, ...]], ...]; each list starts at the pin its thread is at
  draw(threads) {
    if (!this.picture || !threads) return;
    const { ctx, picture, k } = this;
    ctx.globalAlpha = Math.min(1, picture.opacity);
    ctx.lineWidth = Math.max(0.05, picture.thread_px * k);
    ctx.lineCap = "butt";
    for (const [colour, pins] of threads) {
      if (pins.length < 2) continue;
      ctx.strokeStyle = picture.colours[colour] || "#000";
      // one path per line: a thread crossing itself darkens twice, as in the model
      let [px, py] = picture.pins_xy[pins[0]];
      for (let i = 1; i < pins.length; i++) {
        const [x, y] = picture.pins_xy[pins[i]];
        ctx.beginPath();
        ctx.moveTo(px * k, py * k);
        ctx.lineTo(x * k, y * k);
        ctx.stroke();
        px = x; py = y;
      }
      this.lines += pins.length - 1;
    }
    ctx.globalAlpha = 1;
  }

  redraw(final) {
    this.clear();
    this.draw(final);
  }
}

// ------------------------------------------------------------------ a job's event stream
// handlers.event(ev) for each event; the stream is closed after the last one (EventSource would reconnect).
function watchJob(id, handlers) {
  const source = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`);
  source.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    if (FINAL.includes(ev.status)) source.close();
    handlers.event(ev);
  };
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED && handlers.lost) handlers.lost();
  };
  return source;
}

// ------------------------------------------------------------------ one job's live view (make and compare)
// The canvas, a progress bar with the line count and the time left, and the phase; fed by watchJob's events.
class JobView {
  constructor(root, id) {
    this.root = root;
    this.id = id;
    this.canvas = new ThreadCanvas($("canvas", root));
    this.bar = $("progress", root);
    this.label = $(".progress-label", root);
    this.started = null;
  }

  event(ev) {
    if (ev.picture) this.canvas.setup(ev.picture);
    if (ev.status === "queued") this.say(`waiting for a worker (place ${ev.position || "?"} in the queue)`);
    if (ev.threads) this.canvas.draw(ev.threads);
    if (ev.final) this.canvas.redraw(ev.final);
    if (ev.status === "running") {
      if (ev.total) { this.bar.max = ev.total; this.total = ev.total; }
      if (ev.lines !== undefined && ev.total) this.bar.value = ev.lines;
      if (ev.lines && ev.seconds && this.total) {
        const left = ev.seconds * (this.total - ev.lines) / ev.lines;
        this.say(`${ev.lines} of ${this.total} lines · ${fmtSeconds(ev.seconds)} · about ${fmtSeconds(left)} left`);
      } else if (ev.phase) {
        this.say(ev.phase);
      }
    }
    if (ev.status === "solved") {
      this.bar.value = this.bar.max;
      this.say(ev.kit ? "solved; making the kit (template, instructions, replay)…" : "solved");
    }
    if (ev.status === "done") { this.bar.value = this.bar.max; this.say(`done in ${fmtSeconds(ev.wall)}`); }
    if (["failed", "cancelled", "interrupted"].includes(ev.status)) this.say(`${ev.status}: ${ev.error || ""}`);
  }

  say(text) { if (this.label) this.label.textContent = text; }
}

function scoresTable(scores, extra) {
  const rows = [["SSIM (viewing scale)", fmt(scores && scores.ssim)], ["L1 (viewing scale)", fmt(scores && scores.l1)]];
  if (scores && scores.de2000 !== undefined) rows.unshift(["CIEDE2000", fmt(scores.de2000, 2)]);
  for (const [k, v] of extra || []) rows.push([k, v]);
  return el("table", { class: "scores" }, rows.map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v }))));
}

// ------------------------------------------------------------------ the options form, from GET /api/solvers
// Every option's default and one-line help come from the API (read from bench solve's own definitions).
function optionInput(spec, solvers) {
  const id = `opt-${spec.name}`;
  let input;
  if (spec.name === "solver") {
    input = el("select", { id, name: "solver" },
      el("option", { value: "", text: `default: ${solvers.default}` }),
      solvers.solvers.map((s) => el("option", { value: s.name, disabled: !s.available,
        text: `${s.name}${s.available ? "" : " (not installed)"}` })));
  } else if (spec.kind === "bool") {
    input = el("input", { id, name: spec.name, type: "checkbox", checked: !!spec.default });
  } else if (spec.choices) {
    input = el("select", { id, name: spec.name },
      spec.optional ? el("option", { value: "", text: "none" }) : null,
      spec.choices.map((c) => el("option", { value: c, text: c, selected: c === spec.default })));
  } else if (spec.kind === "list") {
    input = el("input", { id, name: spec.name, type: "text", placeholder: "KEY=VALUE, one or more, comma-separated" });
  } else {
    const number = spec.kind === "int" || spec.kind === "float";
    input = el("input", { id, name: spec.name, type: number ? "number" : "text",
      step: spec.kind === "float" ? "any" : null,
      value: spec.default === null || spec.default === undefined ? "" : String(spec.default),
      placeholder: spec.default === null ? "default" : null });
    if (spec.name === "colors") {
      input.placeholder = "one black thread; or auto:4, or black,red,#1e90ff";
      input.setAttribute("list", "thread-colours");
    }
    if (spec.name === "board") { input.placeholder = "white"; input.setAttribute("list", "board-colours"); }
  }
  input.dataset.kind = spec.kind;
  const label = el("label", { for: id }, el("span", { class: "name", text: spec.name.replace(/_/g, " ") }),
    el("code", { class: "flag", text: spec.flag }));
  return el("div", { class: `field field-${spec.kind}` }, label, input, el("p", { class: "help", text: spec.help }));
}

function buildOptionsForm(root, solvers, skip) {
  const groups = { basic: el("div", { class: "fields" }), more: el("div", { class: "fields" }),
    kit: el("div", { class: "fields" }) };
  for (const spec of solvers.options) {
    if ((skip || []).includes(spec.name)) continue;
    groups[spec.group].append(optionInput(spec, solvers));
  }
  const colours = Object.entries(solvers.thread_colours);
  const parts = [
    groups.basic,
    el("div", { class: "swatches", title: "add a thread colour" },
      colours.map(([name, hex]) => {
        const b = el("button", { type: "button", class: "swatch", title: name, "aria-label": `add ${name}`,
          onclick: () => {
            const box = $("#opt-colors", root);
            if (!box) return;
            const have = box.value.trim();
            box.value = have && !have.startsWith("auto") ? `${have},${name}` : name;
          } });
        b.style.background = hex;
        return b;
      })),
    groups.more.children.length ? el("details", {}, el("summary", { text: "More options" }), groups.more) : null,
    groups.kit.children.length ? el("details", {}, el("summary", { text: "Kit" }), groups.kit) : null,
    el("datalist", { id: "thread-colours" }, ["auto:2", "auto:3", "auto:4", "auto:6", ...colours.map(([n]) => n)]
      .map((n) => el("option", { value: n }))),
    el("datalist", { id: "board-colours" }, ["white", "black", ...colours.map(([n]) => n)]
      .map((n) => el("option", { value: n })))];
  root.append(...parts.filter(Boolean));
}

// The form's fields as the API's: only those changed from their default (so the server's defaults hold).
function formFields(root, solvers, data) {
  const specs = Object.fromEntries(solvers.options.map((s) => [s.name, s]));
  for (const input of root.querySelectorAll("[name]")) {
    const spec = specs[input.name];
    if (!spec) continue;
    if (spec.kind === "bool") {
      if (input.checked !== !!spec.default) data.append(spec.name, input.checked ? "true" : "false");
    } else if (spec.kind === "list") {
      for (const item of input.value.split(",").map((v) => v.trim()).filter(Boolean)) data.append(spec.name, item);
    } else {
      const value = input.value.trim();
      const def = spec.default === null || spec.default === undefined ? "" : String(spec.default);
      if (value !== def && !(spec.kind === "float" && value !== "" && Number(value) === Number(def))) {
        data.append(spec.name, value);
      }
    }
  }
  return data;
}

// ------------------------------------------------------------------ the photo and its crop frame
// A circle over the photo: drag it to pan, the wheel or the slider to zoom. The crop is kept in the photo's
// pixels (as shown: EXIF orientation applied), which is what the API's crop=LEFT,TOP,SIZE takes.
class CropFrame {
  constructor(root, onChange) {
    this.root = root;
    this.onChange = onChange || (() => {});
    this.img = $("img", root);
    this.ring = $(".ring", root);
    this.zoom = $(".zoom", root.parentElement) || null;
    this.photo = null;
    this.crop = null;
    this.ring.addEventListener("pointerdown", (e) => this.grab(e));
    root.addEventListener("wheel", (e) => { if (this.crop) { e.preventDefault(); this.scale(e.deltaY > 0 ? 1.06 : 1 / 1.06); } },
      { passive: false });
    if (this.zoom) this.zoom.addEventListener("input", () => this.setSize(Number(this.zoom.value)));
    window.addEventListener("resize", () => this.place());
  }

  // photo: {url, width, height} (its pixels as shown); crop: "LEFT,TOP,SIZE" from POST /api/crop
  show(photo, crop) {
    this.photo = photo;
    const [x, y, s] = crop.split(",").map(Number);
    this.crop = { x, y, s };
    this.img.onload = () => this.place();
    this.img.src = photo.url;
    this.root.hidden = false;
    if (this.zoom) { this.zoom.max = Math.min(photo.width, photo.height); this.zoom.min = Math.max(8, Math.round(this.zoom.max / 12)); this.zoom.value = s; }
    this.place();
  }

  value() { return this.crop ? `${Math.round(this.crop.x)},${Math.round(this.crop.y)},${Math.round(this.crop.s)}` : "center"; }

  clamp() {
    const { width, height } = this.photo;
    const c = this.crop;
    c.s = Math.max(8, Math.min(c.s, width, height));
    c.x = Math.max(0, Math.min(c.x, width - c.s));
    c.y = Math.max(0, Math.min(c.y, height - c.s));
  }

  setSize(s) {
    const c = this.crop;
    const cx = c.x + c.s / 2, cy = c.y + c.s / 2;
    c.s = s; c.x = cx - s / 2; c.y = cy - s / 2;
    this.clamp(); this.place(); this.onChange(this.value());
  }

  scale(f) { this.setSize(this.crop.s * f); if (this.zoom) this.zoom.value = this.crop.s; }

  place() {
    if (!this.photo || !this.img.clientWidth) return;
    const k = this.img.clientWidth / this.photo.width;
    const r = this.ring.style;
    r.left = `${this.img.offsetLeft + this.crop.x * k}px`;
    r.top = `${this.img.offsetTop + this.crop.y * k}px`;
    r.width = r.height = `${this.crop.s * k}px`;
  }

  grab(e) {
    e.preventDefault();
    this.ring.setPointerCapture(e.pointerId);
    const k = this.img.clientWidth / this.photo.width;
    const start = { x: e.clientX, y: e.clientY, cx: this.crop.x, cy: this.crop.y };
    const move = (m) => {
      this.crop.x = start.cx + (m.clientX - start.x) / k;
      this.crop.y = start.cy + (m.clientY - start.y) / k;
      this.clamp(); this.place();
    };
    const up = () => {
      this.ring.removeEventListener("pointermove", move);
      this.ring.removeEventListener("pointerup", up);
      this.onChange(this.value());
    };
    this.ring.addEventListener("pointermove", move);
    this.ring.addEventListener("pointerup", up);
  }
}

// The starting crop of a photo: the API decides (POST /api/crop; a centred square today, a face-aware
// suggestion later), the page only draws it. Returns {crop, width, height, format}.
async function startingCrop(file) {
  const data = new FormData();
  data.append("image", file);
  return api("/api/crop", { method: "POST", body: data });
}

// A URL the browser can show for a photo file; for formats it cannot decode (HEIC) the server makes a JPEG.
async function shownUrl(file) {
  const url = URL.createObjectURL(file);
  const ok = await new Promise((resolve) => {
    const probe = new Image();
    probe.onload = () => resolve(probe.naturalWidth > 0);
    probe.onerror = () => resolve(false);
    probe.src = url;
  });
  if (ok) return url;
  const data = new FormData();
  data.append("image", file);
  const resp = await fetch("/api/preview", { method: "POST", body: data });
  if (!resp.ok) throw new Error((await resp.json()).error);
  return URL.createObjectURL(await resp.blob());
}

// A drop zone and file picker: onFile(file) for the photo chosen.
function photoPicker(zone, input, onFile) {
  input.addEventListener("change", () => { if (input.files[0]) onFile(input.files[0]); });
  zone.addEventListener("click", (e) => { if (e.target === zone || zone.contains(e.target) && e.target.tagName !== "INPUT") input.click(); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) onFile(file);
  });
}

// The photo panel of the make and compare pages: pick or drop a photo, then crop it.
async function setupPhoto(onReady) {
  const zone = $("#drop");
  const input = $("#file");
  const frame = new CropFrame($("#crop"));
  let chosen = null;
  photoPicker(zone, input, async (file) => {
    showError("#photo-error", "");
    try {
      const [suggested, url] = await Promise.all([startingCrop(file), shownUrl(file)]);
      chosen = file;
      frame.show({ url, width: suggested.width, height: suggested.height }, suggested.crop);
      zone.classList.add("small");
      $("#photo-name").textContent = `${file.name} · ${suggested.width}×${suggested.height}`;
      if (onReady) onReady(file);
    } catch (err) {
      showError("#photo-error", err.message);
    }
  });
  return { frame, file: () => chosen };
}
