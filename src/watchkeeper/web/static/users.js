// Users (admin): roles, enabling and disabling accounts, creating new ones.
"use strict";

(() => {
  const { el, api, say, fmtTime } = WK;
  const field = (id) => document.getElementById(id);
  const ROLES = ["admin", "supervisor", "operator", "auditor"];

  function row(u) {
    const role = el("select", { "aria-label": `Role of ${u.username}` },
      ROLES.map((r) => el("option", { value: r, selected: r === u.role }, r)));
    const active = el("input", { type: "checkbox", checked: u.active,
      "aria-label": `${u.username} may log in` });
    const save = el("button", { type: "button", class: "secondary", onclick: async () => {
      const reason = await WK.askReason(`Change ${u.username}`);
      if (!reason) return;
      try {
        await api("PATCH", `/api/v1/users/${u.id}`, {
          json: { role: role.value, active: active.checked, reason },
        });
        say(`${u.username} updated`);
        load();
      } catch (problem) {
        say(problem.detail || String(problem), true);
      }
    } }, "Save");
    return el("tr", { dataset: { username: u.username } },
      el("th", { scope: "row" }, u.username),
      el("td", {}, role),
      el("td", {}, active),
      el("td", {}, fmtTime(u.created_at)),
      el("td", {}, fmtTime(u.last_login_at)),
      el("td", {}, save));
  }

  async function load() {
    const users = await WK.all("/api/v1/users");
    field("users").tBodies[0].replaceChildren(...users.map(row));
  }

  field("create-user").addEventListener("submit", async (event) => {
    event.preventDefault();
    field("user-error").textContent = "";
    const body = {
      username: field("u-name").value.trim(),
      role: field("u-role").value,
      password: field("u-password").value,
    };
    try {
      await api("POST", "/api/v1/users", { json: body });
      say(`User ${body.username} created`);
      event.target.reset();
      load();
    } catch (problem) {
      field("user-error").textContent = problem.detail || String(problem);
    }
  });

  load().catch((problem) => say(problem.detail || String(problem), true));
})();
