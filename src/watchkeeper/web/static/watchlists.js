// Watchlists with their purpose, legal basis, owner and review date; the deployments that
// authorise them on camera groups; and the four-eyes requests waiting for a second supervisor.
"use strict";

(() => {
  const { el, api, say, fmtDate, fmtTime, badge, can, isoFromLocal } = WK;
  const field = (id) => document.getElementById(id);
  let lists = [];

  function reviewCell(w) {
    if (!w.review_by) return el("td", {}, "—");
    const overdue = new Date(w.review_by) <= new Date();
    return el("td", {}, fmtDate(w.review_by), " ", overdue ? badge("overdue", "overdue") : null);
  }

  async function loadLists() {
    lists = await WK.all("/api/v1/watchlists");
    field("lists-empty").hidden = lists.length > 0;
    field("lists").tBodies[0].replaceChildren(...lists.map((w) => el("tr", { dataset: { id: w.id } },
      el("th", { scope: "row" }, w.name),
      el("td", {}, WK.PURPOSES[w.purpose] || w.purpose),
      el("td", {}, w.legal_basis),
      el("td", {}, w.owner),
      reviewCell(w),
      el("td", { class: "num" }, String(w.persons)),
      el("td", { class: "num" }, String(w.confirmations_required)),
      el("td", { class: "num" }, w.effective_threshold.toFixed(2),
        w.threshold === null ? el("span", { class: "muted" }, " (default)") : null))));
    const select = field("dep-list");
    if (select) {
      select.replaceChildren(...lists.map((w) => el("option", { value: w.id }, w.name)));
    }
  }

  async function loadDeployments() {
    const rows = await api("GET", "/api/v1/deployments");
    field("deployments-empty").hidden = rows.length > 0;
    field("deployments").tBodies[0].replaceChildren(...rows.map((d) => el("tr", {},
      el("th", { scope: "row" }, d.watchlist),
      el("td", {}, d.camera_group),
      el("td", {}, fmtTime(d.starts_at)),
      el("td", {}, fmtTime(d.ends_at)),
      el("td", {}, d.authorised_by),
      el("td", {}, d.authorisation_ref),
      el("td", {}, badge(d.status)),
      el("td", {}, can("watchlists:write") && d.status !== "revoked" && d.status !== "ended"
        ? el("button", { type: "button", class: "ghost",
          "aria-label": `Revoke deployment of ${d.watchlist} on ${d.camera_group}`,
          onclick: () => revoke(d) }, "Revoke")
        : null))));
  }

  async function loadGroups() {
    const datalist = field("camera-groups");
    if (!datalist) return;
    const cameras = await WK.all("/api/v1/cameras");
    const groups = [...new Set(cameras.map((c) => c.group))].sort();
    datalist.replaceChildren(...groups.map((g) => el("option", { value: g })));
  }

  async function loadApprovals() {
    const rows = await api("GET", "/api/v1/approvals", { query: { state: "pending" } });
    field("approvals-empty").hidden = rows.length > 0;
    field("approvals").replaceChildren(...rows.map((a) => el("li", { class: "row wrap" },
      el("span", {}, `${a.kind === "enrol_wanted" ? "Enrolment on a wanted-person list" : a.kind}: `,
        `${a.object_type} ${a.object_id}`,
        a.details && a.details.name ? ` (${a.details.name})` : "",
        ` — asked by ${a.requested_by} at ${fmtTime(a.requested_at)}`,
        a.reason ? ` — “${a.reason}”` : ""),
      can("persons:write") ? el("button", { type: "button", class: "confirm",
        onclick: () => decide(a, "approve") }, "Approve") : null,
      can("persons:write") ? el("button", { type: "button", class: "reject",
        onclick: () => decide(a, "reject") }, "Reject") : null)));
  }

  async function decide(approval, verb) {
    try {
      if (verb === "approve") {
        await api("POST", `/api/v1/approvals/${approval.id}/approve`, { json: {} });
      } else {
        const reason = await WK.askReason("Why is this request rejected?");
        if (!reason) return;
        await api("POST", `/api/v1/approvals/${approval.id}/reject`, { json: { reason } });
      }
      say(`Request ${approval.id} ${verb === "approve" ? "approved" : "rejected"}`);
      loadApprovals();
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
  }

  async function revoke(deployment) {
    const reason = await WK.askReason(`Revoke ${deployment.watchlist} on ${deployment.camera_group}`);
    if (!reason) return;
    try {
      await api("POST", `/api/v1/deployments/${deployment.id}/revoke`, { json: { reason } });
      say("Deployment revoked: the list stops matching there now");
      loadDeployments();
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
  }

  const create = field("create-list");
  if (create) {
    create.addEventListener("submit", async (event) => {
      event.preventDefault();
      field("create-error").textContent = "";
      const threshold = field("wl-threshold").value;
      const body = {
        name: field("wl-name").value.trim(),
        purpose: field("wl-purpose").value,
        legal_basis: field("wl-legal").value.trim(),
        owner: field("wl-owner").value.trim(),
        review_by: isoFromLocal(field("wl-review").value, true) || null,
        confirmations_required: Number(field("wl-confirm").value || 1),
        threshold: threshold === "" ? null : Number(threshold),
      };
      try {
        const made = await api("POST", "/api/v1/watchlists", { json: body });
        say(`Watchlist ${made.name} created: authorise where it may be matched`);
        create.reset();
        await loadLists();
        field("dep-list").value = made.id;
        field("deploy-details").open = true;
        field("dep-group").focus();
      } catch (problem) {
        field("create-error").textContent = problem.detail || String(problem);
      }
    });
  }

  const deploy = field("create-deployment");
  if (deploy) {
    const now = new Date();
    field("dep-start").value = WK.localInput(now);
    field("dep-end").value = WK.localInput(new Date(now.getTime() + 7 * 86400000));
    deploy.addEventListener("submit", async (event) => {
      event.preventDefault();
      field("deployment-error").textContent = "";
      const body = {
        watchlist_id: Number(field("dep-list").value),
        camera_group: field("dep-group").value.trim(),
        starts_at: isoFromLocal(field("dep-start").value),
        ends_at: isoFromLocal(field("dep-end").value),
        authorised_by: field("dep-by").value.trim(),
        authorisation_ref: field("dep-ref").value.trim(),
      };
      try {
        await api("POST", "/api/v1/deployments", { json: body });
        say(`Deployment authorised on group ${body.camera_group}`);
        field("dep-group").value = "";
        field("dep-ref").value = "";
        loadDeployments();
      } catch (problem) {
        field("deployment-error").textContent = problem.detail || String(problem);
      }
    });
  }

  Promise.all([loadLists(), loadDeployments(), loadGroups(), loadApprovals()])
    .catch((problem) => say(problem.detail || String(problem), true));
})();
