// Investigations: the cases, their approval, probes, searches, scans, candidates and review.
// Everything goes through /api/v1/cases, which refuses (403, with the reason) whatever the
// case does not allow; the page only shows what the API says.
"use strict";

(() => {
  const { el, api, say, fmtTime, badge, can, isoFromLocal } = WK;
  const field = (id) => document.getElementById(id);
  let current = null;

  function scope(c) {
    return [...c.cameras, ...c.camera_groups.map((g) => `group ${g}`)].join(", ");
  }

  async function loadCases() {
    const cases = await WK.all("/api/v1/cases");
    field("cases-empty").hidden = cases.length > 0;
    field("cases").tBodies[0].replaceChildren(...cases.map((c) => el("tr", { dataset: { id: c.id } },
      el("th", { scope: "row" }, c.reference),
      el("td", {}, WK.PURPOSES[c.purpose] || c.purpose),
      el("td", {}, badge(c.state)),
      el("td", { class: "nowrap" }, `${fmtTime(c.window_start)} – ${fmtTime(c.window_end)}`),
      el("td", {}, scope(c)),
      el("td", {}, c.requested_by),
      el("td", { class: "nowrap" }, fmtTime(c.expires_at)),
      el("td", {}, el("button", { type: "button", class: "ghost", onclick: () => show(c.id) },
        "Open")))));
  }

  async function act(path, body, message) {
    try {
      await api("POST", `/api/v1/cases/${current}${path}`, { json: body });
      say(message);
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
    await Promise.all([loadCases(), show(current)]);
  }

  function actions(c) {
    const buttons = [];
    if (c.state === "pending" && can("cases:approve") && c.requested_by !== `user:${WK.user}`) {
      buttons.push(el("button", { type: "button", class: "confirm",
        onclick: () => act("/approve", {}, "case approved") }, "Approve"));
    }
    if (c.state === "active" && can("cases:write")) {
      buttons.push(el("button", { type: "button", class: "secondary",
        onclick: () => act("/search", {}, "archive searched") }, "Search archived sightings"));
      buttons.push(el("button", { type: "button", class: "secondary", onclick: async () => {
        const reason = await WK.askReason("Why must the evidence leave the system?");
        if (reason) await act("/exports", { reason }, "export requested: a supervisor must approve it");
      } }, "Request evidence export"));
    }
    if ((c.state === "active" || c.state === "pending") && can("cases:write")) {
      buttons.push(el("button", { type: "button", class: "reject", onclick: async () => {
        const reason = await WK.askReason("Why is the case closed?");
        if (reason) await act("/close", { reason }, "case closed: every search under it stopped");
      } }, "Close case"));
    }
    return buttons;
  }

  function reviewCell(c) {
    const cell = el("td", {}, c.review ? badge(c.review === "is_person" ? "confirmed" : "rejected",
      c.review === "is_person" ? "is the person" : "is not") : "—");
    if (can("cases:write")) {
      for (const [decision, label] of [["is_person", "Is the person"], ["is_not", "Is not"]]) {
        cell.append(" ", el("button", { type: "button", class: "ghost",
          onclick: () => act(`/candidates/${c.id}/review`, { decision }, "review recorded") }, label));
      }
    }
    return cell;
  }

  async function show(id) {
    current = id;
    try {
      const c = await api("GET", `/api/v1/cases/${id}`);
      const progress = await api("GET", `/api/v1/cases/${id}/scans`);
      const found = await api("GET", `/api/v1/cases/${id}/results`);
      field("case-detail").hidden = false;
      field("detail-title").textContent = `Case ${c.reference}`;
      field("detail-summary").replaceChildren(badge(c.state), ` ${WK.PURPOSES[c.purpose] || c.purpose}; `,
        `legal basis: ${c.legal_basis}; requested by ${c.requested_by}`,
        c.approved_by ? `, approved by ${c.approved_by}` : ", awaiting a second supervisor",
        `; ${c.probes.length} probe photo(s); threshold ${c.threshold.toFixed(2)}.`);
      field("detail-actions").replaceChildren(...actions(c));
      field("recordings").replaceChildren(...progress.recordings.map((r) => el("li", {},
        badge(r.state), ` ${r.path} (${r.camera || "?"}) ${Math.round(100 * r.progress)} %`,
        r.error ? ` — ${r.error}` : "")));
      field("candidates-empty").hidden = found.candidates.length > 0;
      field("candidates").tBodies[0].replaceChildren(...found.candidates.map((x) => el("tr", {},
        el("th", { scope: "row", class: "num" }, String(x.rank)),
        el("td", {}, el("img", { src: x.crop_url, alt: `face of candidate ${x.rank}`, height: "64" })),
        el("td", {}, x.camera),
        el("td", { class: "nowrap" }, fmtTime(x.started_at)),
        el("td", { class: "nowrap" }, `${x.first_frame}–${x.last_frame} (best ${x.best_frame})`),
        el("td", { class: "num" }, x.score.toFixed(3)),
        reviewCell(x))));
      field("timeline").replaceChildren(...Object.entries(found.timeline).map(([camera, spans]) =>
        el("li", {}, el("strong", {}, camera), ": ",
          spans.map((s) => `${fmtTime(s.from)} – ${fmtTime(s.to)} (${s.score.toFixed(2)})`).join("; "))));
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
  }

  const open = field("open-case");
  if (open) {
    open.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(open);
      const parts = String(data.get("scope")).split(",").map((p) => p.trim()).filter(Boolean);
      try {
        await api("POST", "/api/v1/cases", { json: {
          reference: data.get("reference"), purpose: data.get("purpose"),
          legal_basis: data.get("legal_basis"),
          window_start: isoFromLocal(data.get("window_start")),
          window_end: isoFromLocal(data.get("window_end")),
          expires_at: isoFromLocal(data.get("expires_at"), true),
          cameras: parts.filter((p) => !p.startsWith("group:")),
          camera_groups: parts.filter((p) => p.startsWith("group:")).map((p) => p.slice(6)),
        } });
        field("open-error").textContent = "";
        open.reset();
        say("case opened: it awaits a second supervisor");
        await loadCases();
      } catch (problem) {
        field("open-error").textContent = problem.detail || String(problem);
      }
    });
  }

  const probeForm = field("probe-form");
  if (probeForm) {
    probeForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData();
      for (const file of field("probe-photos").files) form.append("photos", file);
      try {
        await api("POST", `/api/v1/cases/${current}/probes`, { form });
        say("probe photos added");
        probeForm.reset();
        await show(current);
      } catch (problem) {
        say(problem.detail || String(problem), true);
      }
    });
  }

  loadCases().catch((problem) => say(problem.detail || String(problem), true));
})();
