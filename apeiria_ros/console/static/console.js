// apeiria operator console: WebSocket client, top-down map (SVG), answer and trace.
// Plain ES module, no build step, no dependencies. Protocol: apeiria_ros/console/protocol.py
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const COLORS = {
  red: "#e5484d", white: "#eceef1", blue: "#3e8ef7", green: "#3cb96b", black: "#2a2d33", brown: "#a0703c",
  gray: "#8b9099", grey: "#8b9099", yellow: "#f2c94c", orange: "#f2994a", pink: "#f28cc0", purple: "#9b6cf0",
  beige: "#d9c7a3", silver: "#c0c4cc", gold: "#d4af37", cyan: "#39c5cf", tan: "#c9a77c",
};
const MARKS = { true: ["\u2713", "verified against the map"], false: ["\u2717", "re-check failed"],
                unknown: ["\u2013", "not re-checked"] };

const state = {
  ws: null, hello: null, scene: null, node: null, result: null, stepIds: null,
  pending: new Map(), history: [], seq: 0, retry: 0, recorder: null, goal: null,
  streamedSteps: 0,
  live: null,          // {id, lines, steps}: the Ground action's feedback for the request in flight
  progressLog: [],     // every feedback message of this page (stage, index, id): for tests and debugging
};

// ---------------------------------------------------------------- connection
function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  state.ws = ws;
  setConn("connecting", "connecting\u2026");
  ws.onopen = () => { state.retry = 0; setConn("open", "connected"); };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { showError(`bad message from the server: ${e}`); return; }
    try { handle(msg); } catch (e) { console.error(e); showError(`could not show a message: ${e}`); }
  };
  ws.onclose = (ev) => {
    const wait = Math.min(10, 1 + state.retry++);
    const why = ev.code === 1009 ? "the last message was too large; " : "";
    setConn("closed", `disconnected (${why}retrying in ${wait} s)`);
    for (const [id, p] of state.pending) failPending(id, "connection lost before the answer came");
    setTimeout(connect, wait * 1000);
  };
}

function send(doc) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    showError("not connected to the console server");
    return false;
  }
  state.ws.send(JSON.stringify(doc));
  return true;
}

function setConn(st, text) { const el = $("conn"); el.dataset.state = st; el.textContent = text; }

// ---------------------------------------------------------------- messages
function handle(msg) {
  switch (msg.type) {
    case "hello": onHello(msg); break;
    case "scene": state.scene = msg.scene; renderScene(); renderMap(); break;
    case "node": onNode(msg); break;
    case "event": addEvent(msg.event, msg.message); break;
    case "accepted": break;
    case "transcript": onTranscript(msg); break;
    case "progress": onProgress(msg); break;
    case "result": onResult(msg); break;
    case "error": onError(msg); break;
    case "goal": state.goal = msg; renderMap(); break;
    case "pong": break;
    default: console.warn("unknown message", msg);
  }
}

function onHello(h) {
  state.hello = h;
  $("where").textContent = `ROS_DOMAIN_ID ${h.domain_id} \u00b7 ${h.service} \u00b7 ` +
    (h.mode === "scene" ? "own grounding node" : `map from ${h.scene_topic}`);

  if (h.reasoner) $("reasoner").value = h.reasoner;
  const mic = $("mic");
  if (!h.speech) { mic.disabled = true; mic.title = `speech input unavailable: ${h.speech_unavailable}`; }
  if (!state.scene) $("map-empty").textContent = h.mode === "scene" ? "loading the scene\u2026"
    : `waiting for a SceneMap on ${h.scene_topic}\u2026`;
}

function onNode(n) {
  state.node = n;
  const el = $("node");
  el.dataset.ready = String(n.ready);
  el.textContent = n.ready ? "grounding node ready" : `grounding node: ${n.message}`;
  el.title = n.message;
  const d = n.diagnostics;
  if (!state.scene && d && d.values.scene_id && state.hello) {
    $("map-empty").textContent = `the grounding node reasons over \u201c${d.values.scene_id}\u201d, but no SceneMap ` +
      `arrives on ${state.hello.scene_topic} (a scene_file?): answers work, the map cannot be drawn`;
  }
  $("counters").textContent = d ? `served ${d.values.served ?? "?"} \u00b7 errors ${d.values.errors ?? "?"} \u00b7 ` +
    `refused ${d.values.refused ?? "?"} \u00b7 queue ${d.values.queue_depth ?? "?"}/${d.values.queue_size ?? "?"}` : "";
}

function onTranscript(msg) {
  const p = state.pending.get(msg.id);
  if (p) { p.instruction = msg.text || "(nothing recognised)"; renderHistory(); }
  if (msg.text) $("instruction").value = msg.text;
  setBusy(msg.text ? `heard \u201c${msg.text}\u201d: grounding\u2026` : null);
}

// The Ground action's feedback: queued / reasoning / thinking lines / each verified step,
// shown in the trace panel as they come (the result then replaces them).
function onProgress(msg) {
  state.progressLog.push({ id: msg.id, stage: msg.stage, index: msg.index, count: msg.count });
  if (state.progressLog.length > 500) state.progressLog.splice(0, 100);
  if (!state.pending.has(msg.id)) return;
  if (!state.live || state.live.id !== msg.id) state.live = { id: msg.id, lines: [], steps: [] };
  const live = state.live;
  if (msg.stage === "queued" || msg.stage === "reasoning") setBusy(msg.text);
  else if (msg.stage === "thinking") live.lines.push(msg.text);
  else if (msg.stage === "step" && msg.step) {
    live.steps.push(msg.step);
    setBusy(`step ${msg.index} of ${msg.count} verified\u2026`);
  }
  if (msg.stage === "thinking" || msg.stage === "step") {
    const ol = $("trace");
    ol.replaceChildren();
    if (live.lines.length) {
      ol.append(el("li", { class: "thinking" }, el("pre", {}, live.lines.slice(-12).join("\n"))));
    }
    live.steps.forEach((st, k) => ol.append(stepItem(st, k)));
  }
}

function onResult(msg) {
  const r = msg.result;
  const p = state.pending.get(msg.id);
  state.pending.delete(msg.id);
  const entry = p || { id: msg.id, instruction: r.instruction };
  entry.instruction = r.instruction;
  entry.result = r;
  entry.status = r.status;
  if (!p) state.history.unshift(entry);
  state.streamedSteps = state.live && state.live.id === msg.id ? state.live.steps.length : 0;
  if (state.live && state.live.id === msg.id) state.live = null;
  hideError();
  if (r.status === "error" || r.status === "busy") showError(r.message || r.status);
  showResult(r);
  renderHistory();
  updateBusy();
}

function onError(msg) {
  if (msg.id && state.pending.has(msg.id)) { failPending(msg.id, msg.message); return; }
  showError(msg.message);
}

function failPending(id, message) {
  const p = state.pending.get(id);
  state.pending.delete(id);
  if (p) { p.status = "error"; p.error = message; }
  showError(message);
  renderHistory();
  updateBusy();
}

// ---------------------------------------------------------------- asking
function ask(instruction) {
  const text = instruction.trim();
  if (!text) { showError("type an instruction first"); return; }
  const id = `q${++state.seq}`;
  if (!send({ type: "ground", id, instruction: text, reasoner: $("reasoner").value })) return;
  track(id, text);
}

function track(id, text) {
  const entry = { id, instruction: text, status: "pending", t0: performance.now() };
  state.pending.set(id, entry);
  state.history.unshift(entry);
  if (state.history.length > 50) state.history.length = 50;
  hideError();
  renderHistory();
  updateBusy();
}

function updateBusy() { setBusy(state.pending.size ? "grounding\u2026" : null); }
function setBusy(text) {
  $("busy").hidden = !text;
  if (text) $("busy-text").textContent = text;
}

// ---------------------------------------------------------------- microphone
async function toggleMic() {
  if (state.recorder) { state.recorder.stop(); return; }
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError("the microphone needs a secure page: open the console on localhost or over https");
    return;
  }
  let stream;
  try {
    // unprocessed audio: the recogniser normalises it itself, and filters smear short words
    stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false,
                                                                  noiseSuppression: false, autoGainControl: false } });
  } catch (e) { showError(`no microphone: ${e.message || e}`); return; }
  const ctx = new AudioContext();
  const src = ctx.createMediaStreamSource(stream);
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const chunks = [];
  proc.onaudioprocess = (ev) => chunks.push(new Float32Array(ev.inputBuffer.getChannelData(0)));
  src.connect(proc);
  proc.connect(ctx.destination);
  const mic = $("mic");
  mic.classList.add("recording");
  setBusy("listening\u2026 click the microphone again to stop");
  const timer = setTimeout(() => state.recorder && state.recorder.stop(), 8000);
  state.recorder = {
    stop() {
      clearTimeout(timer);
      state.recorder = null;
      mic.classList.remove("recording");
      proc.disconnect(); src.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      const rate = ctx.sampleRate;
      ctx.close();
      const n = chunks.reduce((a, c) => a + c.length, 0);
      if (n < rate * 0.2) { setBusy(null); showError("the recording is too short"); return; }
      const id = `s${++state.seq}`;
      if (send({ type: "speech", id, wav: toBase64(encodeWav(chunks, n, rate)), reasoner: $("reasoner").value })) {
        track(id, "(transcribing\u2026)");
        setBusy("transcribing\u2026");
      } else setBusy(null);
    },
  };
}

function encodeWav(chunks, n, rate) {
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const str = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  str(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); str(8, "WAVE"); str(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true);
  v.setUint32(24, rate, true); v.setUint32(28, rate * 2, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true);
  str(36, "data"); v.setUint32(40, 2 * n, true);
  let o = 44;
  for (const c of chunks) for (let i = 0; i < c.length; i++, o += 2) {
    const s = Math.max(-1, Math.min(1, c[i]));
    v.setInt16(o, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Uint8Array(buf);
}

function toBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// ---------------------------------------------------------------- errors, events, history
function showError(text) { const el = $("error"); el.textContent = text; el.hidden = false; }
function hideError() { $("error").hidden = true; }

function addEvent(event, message) {
  const ul = $("events");
  const li = el("li", { class: /error|unreachable|stale/.test(event) ? "warn" : "" });
  li.append(el("time", {}, new Date().toLocaleTimeString()), el("b", {}, event), " ", message);
  ul.prepend(li);
  while (ul.children.length > 30) ul.lastChild.remove();
}

function renderHistory() {
  const ul = $("history");
  ul.replaceChildren();
  for (const h of state.history) {
    const li = el("li", { class: h.result && h.result === state.result ? "current" : "" });
    li.append(el("span", { class: `badge s-${h.status}` }, h.status), el("span", { class: "h-text" }, h.instruction));
    if (h.error) li.title = h.error;
    if (h.result) li.addEventListener("click", () => { showResult(h.result); renderHistory(); });
    else if (!h.error) li.classList.add("muted");
    ul.append(li);
  }
}

// ---------------------------------------------------------------- answer and trace
function showResult(r) {
  state.result = r;
  state.stepIds = null;
  $("answer").hidden = false;
  const st = $("status");
  st.textContent = r.status.replace("_", " ");
  st.className = `badge s-${r.status}`;
  const ver = $("verified");
  const vkey = r.verified === true ? "true" : r.verified === false ? "false" : "unknown";
  ver.dataset.verified = vkey;
  const failed = r.failed_check ? ` (${r.failed_check.replace("_", " ")})` : "";
  ver.textContent = vkey === "true" ? "\u2713 verified" : vkey === "false" ? `\u2717 verification failed${failed}`
    : "not verified";
  ver.title = vkey === "false" && r.failed_check === "steps" ? "a step's re-check against the map failed"
    : vkey === "false" && r.failed_check ? "the program does not answer the question asked" : "";
  $("answer-instruction").textContent = `\u201c${r.instruction}\u201d`;
  const main = $("answer-main");
  main.replaceChildren();
  if (r.answer !== null && r.answer !== undefined) {
    main.append(el("span", { class: "answer-value" },
      typeof r.answer === "string" ? r.answer : JSON.stringify(r.answer)));
  }
  const byId = sceneIndex();
  for (const t of r.targets) main.append(objectChip(t.id, t.label, byId, "target"));
  for (const a of r.anchors || []) {
    const o = byId.get(a);
    main.append(objectChip(a, o ? o.label : "?", byId, "anchor"));
  }
  if (!main.childNodes.length) main.append(el("span", { class: "muted" }, "nothing found"));
  const msgEl = $("answer-message");
  msgEl.hidden = !r.message;
  msgEl.textContent = r.message || "";
  const meta = $("answer-meta");
  meta.replaceChildren();
  const mismatch = state.scene && r.scene_id && r.scene_id !== state.scene.scene_id;
  for (const [k, v, cls] of [["reasoner", r.reasoner || "?"], ["latency", `${r.latency_ms.toFixed(1)} ms`],
    ["scene", (r.scene_id || "none") + (mismatch ? " (not the map shown)" : ""), mismatch ? "warn" : ""]]) {
    meta.append(el("dt", {}, k), el("dd", { class: cls || "" }, v));
  }
  $("program-box").hidden = !r.program;
  $("program").textContent = r.program || "";
  renderTrace(r);
  renderMap();
}

function objectChip(id, label, byId, kind) {
  const o = byId.get(id);
  const chip = el("span", { class: `chip chip-${kind}`, "data-id": String(id) },
    `${kind} ${id} \u00b7 ${o ? o.describe : label}`);
  chip.addEventListener("mouseenter", () => highlight([id]));
  chip.addEventListener("mouseleave", () => highlight(null));
  return chip;
}

function renderTrace(r) {
  const ol = $("trace");
  ol.replaceChildren();
  const streamed = state.streamedSteps === r.steps.length;  // already seen one by one: no entrance again
  state.streamedSteps = 0;
  r.steps.forEach((s, k) => ol.append(stepItem(s, streamed ? -1 : k)));
  if (!r.steps.length) ol.append(el("li", { class: "placeholder muted" }, "no program steps (see the message and the full trace)"));
  $("raw-trace-box").hidden = !r.trace;
  $("raw-trace").textContent = r.trace || "";
}

// One trace step: its verification mark, index, operation, plan and what executing it found.
// k >= 0 staggers its entrance (a whole trace at once); -1 shows it at once (streamed).
function stepItem(s, k) {
  const v = s.verified === true ? "true" : s.verified === false ? "false" : "unknown";
  const li = el("li", { class: "step", "data-verified": v, "data-op": s.op });
  li.style.setProperty("--i", String(Math.max(k, 0)));
  if (k < 0) li.classList.add("streamed");
  const [mark, why] = MARKS[v];
  li.append(el("span", { class: "mark", title: why, "aria-label": why }, mark),
    el("span", { class: "step-n" }, String(s.index)),
    el("div", { class: "step-body" },
      el("div", {}, el("code", { class: "op" }, s.op), " ", el("span", { class: "plan" }, s.plan)),
      el("div", { class: "execution" }, s.execution || "")));
  if (Array.isArray(s.output) && s.output.length) {
    li.addEventListener("mouseenter", () => highlight(s.output));
    li.addEventListener("mouseleave", () => highlight(null));
    li.classList.add("has-ids");
  }
  return li;
}

function highlight(ids) { state.stepIds = ids ? new Set(ids) : null; renderMap(); }

// ---------------------------------------------------------------- map
function sceneIndex() {
  const m = new Map();
  if (state.scene) for (const o of state.scene.objects) m.set(o.id, o);
  return m;
}

function renderScene() {
  const s = state.scene;
  $("scene-title").textContent = s ? `${s.scene_id} \u00b7 ${s.objects.length} objects \u00b7 ${s.frame_id} \u00b7 ${s.source}` : "";
  $("map-empty").hidden = !!(s && s.objects.length);
  if (s && !s.objects.length) $("map-empty").textContent = "the map has no objects yet";
  if (state.result) showResult(state.result);
}

function renderMap() {
  const svg = $("map");
  svg.replaceChildren();
  const s = state.scene;
  if (!s || !s.objects.length) return;
  const W = 800;
  let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
  const grow = (x, y) => { lo = [Math.min(lo[0], x), Math.min(lo[1], y)]; hi = [Math.max(hi[0], x), Math.max(hi[1], y)]; };
  for (const o of s.objects) {
    grow(o.center[0] - o.size[0] / 2, o.center[1] - o.size[1] / 2);
    grow(o.center[0] + o.size[0] / 2, o.center[1] + o.size[1] / 2);
  }
  const vp = s.viewpoint;
  if (vp) grow(vp.position[0], vp.position[1]);
  const goal = state.goal && (!state.goal.frame_id || state.goal.frame_id === s.frame_id) ? state.goal : null;
  if (goal) grow(goal.x, goal.y);
  const pad = 0.35;
  lo = [lo[0] - pad, lo[1] - pad]; hi = [hi[0] + pad, hi[1] + pad];
  const dx = Math.max(hi[0] - lo[0], 1), dy = Math.max(hi[1] - lo[1], 1);
  const H = Math.round(Math.min(Math.max(W * dy / dx, 360), 900));
  const k = Math.min(W / dx, H / dy);
  const ox = (W - dx * k) / 2, oy = (H - dy * k) / 2;
  const X = (x) => ox + (x - lo[0]) * k, Y = (y) => H - oy - (y - lo[1]) * k;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);

  // grid every metre (half metre on small maps), labelled on the edges
  const step = Math.max(dx, dy) > 6 ? 1 : 0.5;
  const grid = svgEl("g", { class: "grid" });
  for (let x = Math.ceil(lo[0] / step) * step; x <= hi[0]; x += step) {
    grid.append(svgEl("line", { x1: X(x), y1: 0, x2: X(x), y2: H, class: Math.abs(x) < 1e-9 ? "axis" : "" }));
    grid.append(svgEl("text", { x: X(x) + 3, y: H - 5, class: "tick" }, `${+x.toFixed(1)} m`));
  }
  for (let y = Math.ceil(lo[1] / step) * step; y <= hi[1]; y += step) {
    grid.append(svgEl("line", { x1: 0, y1: Y(y), x2: W, y2: Y(y), class: Math.abs(y) < 1e-9 ? "axis" : "" }));
    grid.append(svgEl("text", { x: 4, y: Y(y) - 4, class: "tick" }, `${+y.toFixed(1)} m`));
  }
  svg.append(grid);

  const r = state.result && (!r_scene_mismatch()) ? state.result : null;
  const targets = new Set(r ? r.targets.map((t) => t.id) : []);
  const anchors = new Set(r ? r.anchors || [] : []);
  const stepIds = state.stepIds;
  // lower objects first: what stands on a desk is drawn over the desk
  const objs = [...s.objects].sort((a, b) => (a.center[2] + a.size[2] / 2) - (b.center[2] + b.size[2] / 2));
  const layer = svgEl("g", { class: "objects" });
  const pending = [];
  for (const o of objs) {
    const cls = ["obj"];
    if (targets.has(o.id)) cls.push("target");
    if (anchors.has(o.id)) cls.push("anchor");
    if (stepIds && stepIds.has(o.id)) cls.push("step-hl");
    if (stepIds && !stepIds.has(o.id)) cls.push("dim");
    const x = X(o.center[0] - o.size[0] / 2), y = Y(o.center[1] + o.size[1] / 2);
    const w = Math.max(o.size[0] * k, 3), h = Math.max(o.size[1] * k, 3);
    const fill = COLORS[(o.color || "").toLowerCase()] || "#8a8f98";
    const g = svgEl("g", { class: cls.join(" "), "data-id": String(o.id) });
    g.append(svgEl("title", {}, `object ${o.id}: ${o.describe}\ncentre (${o.center.map((v) => v.toFixed(2)).join(", ")}) m\n` +
      `size ${o.size.map((v) => v.toFixed(2)).join(" \u00d7 ")} m` + (o.attributes.length ? `\n${o.attributes.join(", ")}` : "") +
      (o.score !== null ? `\nscore ${o.score.toFixed(2)}` : "")));
    g.append(svgEl("rect", { x, y, width: w, height: h, rx: 3, fill, class: "box" }));
    if (o.front) {
      const cx = X(o.center[0]), cy = Y(o.center[1]), L = Math.min(w, h) / 2 + 8;
      g.append(svgEl("line", { x1: cx, y1: cy, x2: cx + o.front[0] * L, y2: cy - o.front[1] * L, class: "front" }));
    }
    if (targets.has(o.id)) {  // a ring, so a small target is found at a glance
      g.append(svgEl("circle", { cx: X(o.center[0]), cy: Y(o.center[1]), r: Math.hypot(w, h) / 2 + 9, class: "ring" }));
    }
    layer.append(g);
    const tag = targets.has(o.id) ? "\u25ce " : anchors.has(o.id) ? "\u25c7 " : "";
    const prio = targets.has(o.id) ? 3 : anchors.has(o.id) ? 2 : stepIds && stepIds.has(o.id) ? 1 : 0;
    pending.push({ o, x, y, w, h, prio, text: `${tag}${o.id} ${o.label}`, cls: cls.slice(1).join(" ") });
  }
  svg.append(layer, placeLabels(pending, X, Y, W, H));
  if (goal) {  // where the robot was sent: a footprint with its heading
    const gx = X(goal.x), gy = Y(goal.y), R = Math.max(0.3 * k, 6);  // robot_radius default
    const g = svgEl("g", { class: "goal", transform: `translate(${gx} ${gy}) rotate(${-goal.yaw * 180 / Math.PI})` });
    g.append(svgEl("circle", { r: R }), svgEl("path", { d: `M ${R + 8} 0 L ${R - 2} -6 L ${R - 2} 6 Z` }));
    g.append(svgEl("title", {}, `approach goal on ${goal.topic}: (${goal.x.toFixed(2)}, ${goal.y.toFixed(2)}) m, ` +
      `heading ${(goal.yaw * 180 / Math.PI).toFixed(0)}\u00b0`));
    svg.append(g, svgEl("text", { x: gx + R + 4, y: gy + R + 12, class: "tick goal-label" }, "goal"));
  }
  if (vp) {
    const px = X(vp.position[0]), py = Y(vp.position[1]);
    const ang = Math.atan2(-(vp.look_at[1] - vp.position[1]), vp.look_at[0] - vp.position[0]);
    const g = svgEl("g", { class: "viewpoint", transform: `translate(${px} ${py}) rotate(${ang * 180 / Math.PI})` });
    g.append(svgEl("path", { d: "M 14 0 L -8 -9 L -8 9 Z" }));
    g.append(svgEl("title", {}, `viewpoint${vp.given ? "" : " (default)"}: left / right / front are seen from here`));
    svg.append(g, svgEl("text", { x: px + 12, y: py + 18, class: "tick vp-label" }, "viewpoint"));
  }
}

// Labels without overlaps: highlighted objects first, then the larger ones; a label that
// finds no free place is left out (its object keeps its tooltip). Big footprints (tables,
// desks) carry theirs in a corner, so what stands on them keeps the centre.
function placeLabels(items, X, Y, W, H) {
  const g = svgEl("g", { class: "labels" });
  const placed = [];
  const free = (b) => b.x0 >= 0 && b.x1 <= W && b.y0 >= 0 && b.y1 <= H &&
    placed.every((p) => b.x1 < p.x0 || b.x0 > p.x1 || b.y1 < p.y0 || b.y0 > p.y1);
  items.sort((a, b) => b.prio - a.prio || b.w * b.h - a.w * a.h);
  for (const it of items) {
    const bold = it.prio >= 2;
    const tw = it.text.length * (bold ? 7.6 : 6.6), th = bold ? 14 : 12;
    const cx = X(it.o.center[0]), cy = Y(it.o.center[1]);
    const big = it.w > 110 && it.h > 44;
    const spots = big ? [[it.x + 6, it.y + 15, "start"]] : [];
    spots.push([cx, cy + 4, "middle"], [cx, it.y - 5, "middle"], [cx, it.y + it.h + th, "middle"],
               [it.x + it.w + 4, cy + 4, "start"], [it.x - 4, cy + 4, "end"]);
    const boxOf = ([x, y, anchor]) => {
      const x0 = anchor === "start" ? x : anchor === "end" ? x - tw : x - tw / 2;
      return { x0, x1: x0 + tw, y0: y - th + 2, y1: y + 3 };
    };
    let spot = spots.find((sp) => free(boxOf(sp)));
    if (!spot && it.prio === 3) spot = spots[0];  // a target is always named
    if (!spot) continue;
    placed.push(boxOf(spot));
    const [x, y, anchor] = spot;
    g.append(svgEl("text", { x, y, "text-anchor": anchor, class: `label ${it.cls}`, "data-id": String(it.o.id) }, it.text));
  }
  return g;
}

function r_scene_mismatch() {
  const r = state.result, s = state.scene;
  return r && s && r.scene_id && r.scene_id !== s.scene_id;
}

// ---------------------------------------------------------------- DOM helpers
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== "") e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== "") e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---------------------------------------------------------------- start
$("ask").addEventListener("submit", (ev) => { ev.preventDefault(); ask($("instruction").value); });
$("mic").addEventListener("click", () => { toggleMic().catch((e) => showError(String(e))); });
window.addEventListener("resize", () => renderMap());
// for tests and the browser console: what a page (or a broken one) may send
window.apeiriaConsole = { state, sendRaw: (text) => state.ws && state.ws.send(text), ask, handle };
connect();
