// Camera wall: status, rates, lag and the latest analysed frame of every camera, refreshed
// every 2 s; add and edit cameras with a live test of the URI before saving.
"use strict";

(() => {
  const { el, api, say, fmtTime, badge, can } = WK;
  const wall = document.getElementById("wall");
  const emptyNote = document.getElementById("camera-empty");
  const summary = document.getElementById("camera-summary");
  const REFRESH_MS = 2000;
  const cards = new Map(); // id -> { item, parts }
  let cameras = [];
  let openDialog = () => {}; // set below where the user may change cameras

  function figure(label, value) {
    return el("span", {}, el("span", { class: "muted" }, `${label} `), value);
  }

  function card(camera) {
    const frame = el("div", { class: "frame" }, "No frame yet");
    const title = el("h2", {});
    const state = el("span");
    const figures = el("div", { class: "figures" });
    const reason = el("div", { class: "reason" });
    const edit = can("cameras:write")
      ? el("button", { type: "button", class: "ghost", onclick: () => openDialog(camera.id) }, "Edit")
      : null;
    const item = el("li", { dataset: { id: camera.id } }, frame,
      el("div", { class: "info" },
        el("div", { class: "row spread" }, title, el("div", { class: "row" }, state, edit)),
        figures, reason));
    return { item, frame, title, state, figures, reason, edit, loading: false, hasFrame: false };
  }

  function lag(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    return seconds < 10 ? `${seconds.toFixed(2)} s` : `${seconds.toFixed(0)} s`;
  }

  function update(parts, camera) {
    const s = camera.status || { state: camera.enabled ? "stopped" : "disabled" };
    parts.title.textContent = camera.name;
    parts.state.replaceChildren(badge(s.state));
    parts.item.dataset.state = s.state;
    if (parts.edit) parts.edit.setAttribute("aria-label", `Edit camera ${camera.name}`);
    parts.figures.replaceChildren(
      figure("group", camera.group),
      figure("in", `${(s.fps_in || 0).toFixed(1)} fps`),
      figure("analysed", `${(s.fps_analysed || 0).toFixed(1)} fps`),
      figure("lag", lag(s.lag_s)),
      figure("faces/s", (s.faces_per_s || 0).toFixed(1)),
      figure("alerts", String(s.alerts || 0)),
      figure("last frame", s.last_frame_at ? fmtTime(s.last_frame_at * 1000).slice(11) : "—"));
    parts.reason.textContent = s.reason || "";
    refreshFrame(parts, camera);
  }

  // Load the next snapshot off-screen and swap it in, so the wall never flickers.
  // A frame shows faces: it needs the face-image permission (auditors see the figures only).
  function refreshFrame(parts, camera) {
    if (!can("persons:photos:view")) {
      parts.frame.textContent = "Live frames need the persons:photos:view permission";
      return;
    }
    if (parts.loading) return;
    parts.loading = true;
    const next = new Image();
    next.alt = `latest frame of ${camera.name}`;
    next.onload = () => {
      parts.loading = false;
      parts.hasFrame = true;
      parts.frame.replaceChildren(next);
    };
    next.onerror = () => {
      parts.loading = false;
      if (!parts.hasFrame) parts.frame.textContent = "No frame yet";
    };
    next.src = `/api/v1/cameras/${camera.id}/snapshot?t=${Date.now()}`;
  }

  async function refresh() {
    try {
      cameras = await WK.all("/api/v1/cameras");
    } catch (problem) {
      say(problem.detail || String(problem), true);
      return;
    }
    emptyNote.hidden = cameras.length > 0;
    const seen = new Set();
    for (const camera of cameras) {
      seen.add(camera.id);
      if (!cards.has(camera.id)) cards.set(camera.id, card(camera));
      update(cards.get(camera.id), camera);
    }
    for (const [id, parts] of cards) {
      if (!seen.has(id)) { parts.item.remove(); cards.delete(id); }
    }
    // Re-insert only when the order changed: moving a node would take the keyboard focus away.
    const desired = cameras.map((c) => cards.get(c.id).item);
    const current = [...wall.children];
    if (desired.length !== current.length || desired.some((node, i) => node !== current[i])) {
      wall.replaceChildren(...desired);
    }
    const up = cameras.filter((c) => c.status && c.status.state === "connected").length;
    summary.textContent = `${up} of ${cameras.length} connected`;
  }

  // --- add / edit ----------------------------------------------------------------------
  const dialog = document.getElementById("camera-dialog");
  if (dialog) {
    const form = document.getElementById("camera-form");
    const result = document.getElementById("cam-test-result");
    const error = document.getElementById("cam-error");
    const field = (id) => document.getElementById(id);
    let editing = null;

    const open = (id) => {
      editing = cameras.find((c) => c.id === id) || null;
      form.reset();
      result.textContent = "";
      error.textContent = "";
      field("camera-dialog-title").textContent = editing ? `Edit camera ${editing.name}` : "Add camera";
      field("cam-reason-field").hidden = !editing;
      if (editing) {
        field("cam-name").value = editing.name;
        field("cam-uri").value = editing.uri;
        field("cam-group").value = editing.group;
        field("cam-fps").value = editing.analysis_fps;
        field("cam-min-face").value = editing.min_face_size ?? "";
        field("cam-threshold").value = editing.detection_threshold ?? "";
        field("cam-enabled").checked = editing.enabled;
      }
      dialog.showModal();
      field("cam-name").focus();
    };
    openDialog = open;
    document.getElementById("add-camera").addEventListener("click", () => open(null));
    document.getElementById("cam-cancel").addEventListener("click", () => dialog.close());

    document.getElementById("cam-test").addEventListener("click", async () => {
      const uri = field("cam-uri").value.trim();
      if (!uri) { result.textContent = "Enter a URI first."; return; }
      result.className = "test-result muted";
      result.textContent = "Testing… (up to 3 s)";
      try {
        const t = await api("POST", "/api/v1/cameras/test", { json: { uri, seconds: 3 } });
        if (t.ok) {
          result.className = "test-result ok";
          result.textContent = `Frames arrive: ${t.frames} in ${t.seconds.toFixed(1)} s` +
            (t.width ? `, ${t.width}×${t.height}` : "") +
            (t.fps_in ? `, ${t.fps_in.toFixed(1)} frames/s` : "");
        } else {
          result.className = "test-result error";
          result.textContent = `No frames: ${t.error || "nothing arrived"}`;
        }
      } catch (problem) {
        result.className = "test-result error";
        result.textContent = problem.detail || String(problem);
      }
    });

    const number = (id) => (field(id).value === "" ? null : Number(field(id).value));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      const body = {
        name: field("cam-name").value.trim(),
        uri: field("cam-uri").value.trim(),
        group: field("cam-group").value.trim() || "default",
        analysis_fps: number("cam-fps") ?? 5,
        min_face_size: number("cam-min-face"),
        detection_threshold: number("cam-threshold"),
        enabled: field("cam-enabled").checked,
      };
      try {
        if (editing) {
          body.reason = field("cam-reason").value.trim() || null;
          await api("PATCH", `/api/v1/cameras/${editing.id}`, { json: body });
          say(`Camera ${body.name} updated`);
        } else {
          await api("POST", "/api/v1/cameras", { json: body });
          say(`Camera ${body.name} added`);
        }
        dialog.close();
        refresh();
      } catch (problem) {
        error.textContent = problem.detail || String(problem);
      }
    });
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
