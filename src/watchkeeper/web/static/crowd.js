// Crowd page: crowd alerts with acknowledgement, the occupancy chart per zone over the last
// hours (the stored per-minute counts), and every counting camera's live view (zones drawn,
// faces blurred, from memory) with its zones' counts. Refreshed every 3 s.
"use strict";

(() => {
  const { el, api, say, fmtTime, badge, can } = WK;
  const REFRESH_MS = 3000;
  const COLOURS = ["#e8a33d", "#4aa3df", "#7bc67b", "#d46a6a", "#a98bd8", "#5fc4b8"];
  const alertList = document.getElementById("crowd-alerts");
  const alertsEmpty = document.getElementById("crowd-alerts-empty");
  const wall = document.getElementById("crowd-wall");
  const wallEmpty = document.getElementById("crowd-empty");
  const summary = document.getElementById("crowd-summary");
  const chart = document.getElementById("occupancy");
  const hours = document.getElementById("occupancy-hours");
  const cards = new Map(); // camera id -> parts

  const LIMIT_WORDS = { people: "people", density: "people/m²", inflow: "in per minute" };

  function alertItem(a) {
    const words = LIMIT_WORDS[a.limit_kind] || a.limit_kind;
    const ack = a.state === "new" && can("crowd:acknowledge")
      ? el("button", { type: "button", class: "primary", onclick: () => acknowledge(a) },
        "Acknowledge")
      : null;
    return el("li", { class: `crowd-alert ${a.state}`, dataset: { id: a.id } },
      el("div", { class: "row spread" },
        el("strong", {}, `${a.zone.name} · ${a.camera.name}`),
        el("div", { class: "row" }, badge(a.state === "new" ? "new" : "confirmed", a.state), ack)),
      el("div", {}, `${a.value.toFixed(1)} ${words} over the limit of ${a.limit} `,
        el("span", { class: "muted" }, `(peak ${a.peak.toFixed(1)})`)),
      el("div", { class: "muted small" }, `raised ${fmtTime(a.raised_at).slice(11)}`,
        a.released_at ? ` · over ${fmtTime(a.released_at).slice(11)}` : " · ongoing",
        a.acknowledged_by ? ` · acknowledged by ${a.acknowledged_by}` : ""));
  }

  async function acknowledge(a) {
    try {
      await api("POST", `/api/v1/crowd-alerts/${a.id}/acknowledge`, { json: {} });
      say(`Crowd alert in ${a.zone.name} acknowledged`);
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
    refresh();
  }

  function cameraCard(camera) {
    const frame = el("div", { class: "frame" }, "No frame yet");
    const counts = el("div", { class: "figures" });
    const item = el("li", { dataset: { id: camera.id } }, frame,
      el("div", { class: "info" }, el("h2", {}, camera.name), counts));
    return { item, frame, counts, loading: false, hasFrame: false };
  }

  function refreshFrame(parts, cameraId, name) {
    if (!can("persons:photos:view")) { // a frame, even blurred, is a face image
      parts.frame.textContent = "Live views need the persons:photos:view permission";
      return;
    }
    if (parts.loading) return;
    parts.loading = true;
    const next = new Image();
    next.alt = `${name}: zones and people, faces blurred`;
    next.onload = () => { parts.loading = false; parts.hasFrame = true; parts.frame.replaceChildren(next); };
    next.onerror = () => { parts.loading = false; if (!parts.hasFrame) parts.frame.textContent = "Not counting now"; };
    next.src = `/api/v1/cameras/${cameraId}/crowd/snapshot?t=${Date.now()}`;
  }

  function zoneFigures(zones, live) {
    const now = new Map(live.map((r) => [r.zone, r]));
    return zones.map((z) => {
      const r = now.get(z.name);
      const people = r ? `${r.smoothed.toFixed(1)} people` : "—";
      const density = r && r.density !== null ? ` · ${r.density.toFixed(2)}/m²` : "";
      const limit = z.limits.max_people !== null ? ` (limit ${z.limits.max_people})` : "";
      return el("span", {}, el("span", { class: "muted" }, `${z.name} `), people + density + limit);
    });
  }

  // A small SVG line chart: one line per zone, minutes on x, mean people on y.
  function drawChart(minutes, zones) {
    const W = 900, H = 220, L = 40, B = 24, T = 10, R = 10;
    const names = new Map(zones.map((z) => [z.id, `${z.camera} · ${z.name}`]));
    if (!minutes.length) {
      chart.replaceChildren(el("p", { class: "muted" }, "No counts stored in this period yet."));
      return;
    }
    const times = minutes.map((m) => Date.parse(m.minute));
    const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 60000);
    const top = Math.max(1, ...minutes.map((m) => m.people_max));
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => H - B - (v / top) * (H - B - T);
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("class", "chart");
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text) node.textContent = text;
      svg.append(node);
    };
    for (const v of [0, top / 2, top]) {
      add("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" });
      add("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" }, v.toFixed(0));
    }
    add("text", { x: L, y: H - 6, class: "axis" }, fmtTime(new Date(t0).toISOString()).slice(11, 16));
    add("text", { x: W - R, y: H - 6, "text-anchor": "end", class: "axis" },
      fmtTime(new Date(t1).toISOString()).slice(11, 16));
    const byZone = new Map();
    for (const m of minutes) {
      if (!byZone.has(m.zone_id)) byZone.set(m.zone_id, []);
      byZone.get(m.zone_id).push(m);
    }
    const legend = [];
    [...byZone.entries()].forEach(([zoneId, rows], i) => {
      const colour = COLOURS[i % COLOURS.length];
      const points = rows.map((m) => `${x(Date.parse(m.minute)).toFixed(1)},${y(m.people_mean).toFixed(1)}`);
      add("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2 });
      if (rows.length === 1) add("circle", { cx: x(Date.parse(rows[0].minute)), cy: y(rows[0].people_mean), r: 3, fill: colour });
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = colour; // a CSSOM property, allowed by the page's CSP
      legend.push(el("span", { class: "legend" }, swatch, names.get(zoneId) || `zone ${zoneId}`));
    });
    chart.replaceChildren(svg, el("div", { class: "row wrap" }, legend));
  }

  async function refresh() {
    let zones, alerts, minutes;
    try {
      [zones, alerts, minutes] = await Promise.all([
        api("GET", "/api/v1/zones"),
        api("GET", "/api/v1/crowd-alerts", { query: { limit: 20 } }),
        api("GET", "/api/v1/zones/occupancy", { query: { hours: hours.value } }),
      ]);
    } catch (problem) {
      say(problem.detail || String(problem), true);
      return;
    }
    alertsEmpty.hidden = alerts.length > 0;
    alertList.replaceChildren(...alerts.map(alertItem));
    const open = alerts.filter((a) => a.state === "new").length;
    summary.textContent = `${zones.length} zone(s) · ${open} crowd alert(s) to acknowledge`;
    drawChart(minutes, zones);
    const byCamera = new Map();
    for (const z of zones) {
      if (!byCamera.has(z.camera_id)) byCamera.set(z.camera_id, { name: z.camera, zones: [] });
      byCamera.get(z.camera_id).zones.push(z);
    }
    wallEmpty.hidden = byCamera.size > 0;
    for (const [id, camera] of byCamera) {
      if (!cards.has(id)) {
        cards.set(id, cameraCard({ id, name: camera.name }));
        wall.append(cards.get(id).item);
      }
      const parts = cards.get(id);
      let live = [];
      try { live = await api("GET", `/api/v1/cameras/${id}/crowd`); } catch { live = []; }
      parts.counts.replaceChildren(...zoneFigures(camera.zones, live));
      refreshFrame(parts, id, camera.name);
    }
    for (const [id, parts] of cards) {
      if (!byCamera.has(id)) { parts.item.remove(); cards.delete(id); }
    }
  }

  // --- zone management (cameras:write): a table with Delete, and a form to add one -------
  const zoneForm = document.getElementById("zone-form");
  if (zoneForm) {
    const field = (id) => document.getElementById(id);
    const number = (id) => (field(id).value === "" ? null : Number(field(id).value));
    const table = document.querySelector("#zone-table tbody");

    async function loadZones() {
      const [zones, cameras] = await Promise.all([
        api("GET", "/api/v1/zones"), WK.all("/api/v1/cameras"),
      ]);
      field("zone-camera").replaceChildren(...cameras.map((c) => el("option", { value: c.id }, c.name)));
      table.replaceChildren(...zones.map((z) => el("tr", {},
        el("td", {}, z.camera), el("td", {}, z.name),
        el("td", {}, z.area_m2 === null ? "—" : String(z.area_m2)),
        el("td", {}, z.lines.map((l) => l.name).join(", ") || "—"),
        el("td", {}, Object.entries(z.limits).filter(([, v]) => v !== null)
          .map(([k, v]) => `${k.replaceAll("_", " ")} ${v}`).join(", ") || "—"),
        el("td", {}, el("button", { type: "button", class: "ghost", onclick: () => remove(z) },
          "Delete")))));
    }

    async function remove(zone) {
      const reason = await WK.askReason(`Delete zone ${zone.name} and its counts?`);
      if (reason === null) return;
      try {
        await api("DELETE", `/api/v1/zones/${zone.id}`, { query: { reason } });
        say(`Zone ${zone.name} deleted`);
      } catch (problem) { say(problem.detail || String(problem), true); }
      loadZones();
      refresh();
    }

    zoneForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = field("zone-error");
      error.textContent = "";
      const polygon = field("zone-polygon").value.trim().split(/\s+/)
        .map((pair) => pair.split(",").map(Number));
      try {
        await api("POST", "/api/v1/zones", { json: {
          camera_id: Number(field("zone-camera").value),
          name: field("zone-name").value.trim(),
          polygon,
          area_m2: number("zone-area"),
          limits: { max_people: number("zone-max-people"), max_density: number("zone-max-density") },
        } });
        say(`Zone ${field("zone-name").value.trim()} added`);
        zoneForm.reset();
      } catch (problem) {
        error.textContent = problem.detail || String(problem);
        return;
      }
      loadZones();
      refresh();
    });
    loadZones().catch((problem) => say(problem.detail || String(problem), true));
  }

  hours.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
