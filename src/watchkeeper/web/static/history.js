// History: alerts (filter by time, camera, watchlist, state) and matched sightings (time,
// camera), newest first, page by page.
"use strict";

(() => {
  const { el, fmtTime, badge, isoFromLocal } = WK;
  const field = (id) => document.getElementById(id);
  const form = field("filters");
  const table = field("results");
  const empty = field("results-empty");

  const kind = () => form.elements.kind.value || "alerts";

  const heads = {
    alerts: ["Alert", "Last seen", "Person", "Watchlist", "Camera", "Score", "State", "Reviews"],
    sightings: ["Sighting", "Time", "Camera", "Track", "Detections", "Quality", "Matches"],
  };

  const rows = {
    alerts: (a) => el("tr", { dataset: { id: a.id, state: a.state } },
      el("th", { scope: "row" }, `#${a.id}`),
      el("td", {}, fmtTime(a.last_seen)),
      el("td", {}, a.person.name),
      el("td", {}, a.watchlist.name),
      el("td", {}, a.camera.name),
      el("td", { class: "num" }, a.score.toFixed(3)),
      el("td", {}, badge(a.state), a.confirmations_required > 1
        ? el("span", { class: "muted" }, ` ${a.confirmed_by.length} of ${a.confirmations_required}`)
        : null),
      el("td", {}, a.reviews.map((r) => `${r.reviewer}: ${r.decision}` +
        (r.comment ? ` (“${r.comment}”)` : "")).join("; ") || "—")),
    sightings: (s) => el("tr", { dataset: { id: s.id } },
      el("th", { scope: "row" }, `#${s.id}`),
      el("td", {}, `${fmtTime(s.started_at)} – ${fmtTime(s.ended_at).slice(11)}`),
      el("td", {}, s.camera.name),
      el("td", { class: "num" }, String(s.track_id)),
      el("td", { class: "num" }, String(s.detections)),
      el("td", { class: "num" }, s.quality.toFixed(2)),
      el("td", {}, s.matches.map((m) => `${m.person.name} on ${m.watchlist.name} ` +
        `(${m.score.toFixed(3)})`).join("; ") || "—")),
  };

  const pager = new WK.Pager(document.querySelector(".pager"), (items, number) => {
    const which = kind();
    table.tHead.replaceChildren(el("tr", {}, heads[which].map((h) => el("th", { scope: "col" }, h))));
    table.tBodies[0].replaceChildren(...items.map(rows[which]));
    empty.hidden = items.length > 0;
    field("page-number").textContent = `page ${number}`;
  });

  function run() {
    const which = kind();
    document.querySelectorAll(".alerts-only").forEach((node) => { node.hidden = which !== "alerts"; });
    field("results-title").textContent = which === "alerts" ? "Alerts" : "Matched sightings";
    const query = {
      limit: 25,
      since: isoFromLocal(field("f-since").value),
      until: isoFromLocal(field("f-until").value),
      camera_id: field("f-camera").value,
    };
    if (which === "alerts") {
      query.watchlist_id = field("f-watchlist").value;
      query.state = field("f-state").value;
    }
    return pager.start(WK.withQuery(`/api/v1/${which}`, query));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  form.querySelectorAll('input[name="kind"]').forEach((radio) => radio.addEventListener("change", run));

  async function options() {
    const [cameras, lists] = await Promise.all([
      WK.all("/api/v1/cameras"), WK.all("/api/v1/watchlists"),
    ]);
    field("f-camera").append(...cameras.map((c) => el("option", { value: c.id }, c.name)));
    field("f-watchlist").append(...lists.map((w) => el("option", { value: w.id }, w.name)));
  }
  options().catch((problem) => WK.say(problem.detail || String(problem), true)).then(run);
})();
