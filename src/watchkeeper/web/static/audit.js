// Audit: the hash chain's verification (the first broken link, if any) and its events.
"use strict";

(() => {
  const { el, api, say, fmtTime } = WK;
  const field = (id) => document.getElementById(id);

  async function verify() {
    const status = field("chain-status");
    status.textContent = "Verifying…";
    try {
      const chain = await api("GET", "/api/v1/audit/verify");
      const card = field("chain");
      card.classList.toggle("intact", chain.ok);
      card.classList.toggle("broken", !chain.ok);
      status.className = chain.ok ? "ok" : "error";
      status.textContent = chain.ok
        ? `Intact: all ${chain.checked} events verified (checked ${fmtTime(new Date().toISOString())}).`
        : `Broken at event ${chain.first_broken_seq}: ${chain.problem}. ` +
          `${chain.checked} events before it are intact.`;
      field("chain-head").textContent = `#${chain.head_seq} ${chain.head_hash}`;
    } catch (problem) {
      status.className = "error";
      status.textContent = problem.detail || String(problem);
    }
  }

  function details(value) {
    if (value === null || value === undefined) return "";
    const text = JSON.stringify(value);
    return text.length > 160 ? `${text.slice(0, 157)}…` : text;
  }

  const pager = new WK.Pager(document.querySelector(".pager"), (items) => {
    field("events-empty").hidden = items.length > 0;
    field("events").tBodies[0].replaceChildren(...items.map((e) => el("tr",
      { dataset: { seq: e.seq, action: e.action } },
      el("th", { scope: "row", class: "num" }, String(e.seq)),
      el("td", { class: "nowrap" }, fmtTime(e.at)),
      el("td", {}, e.actor),
      el("td", { class: "nowrap" }, el("code", {}, e.action)),
      el("td", {}, `${e.object_type}${e.object_id ? ` ${e.object_id}` : ""}`),
      el("td", {}, e.reason || ""),
      el("td", { class: "small" }, el("code", { title: JSON.stringify(e.details) }, details(e.details))),
      el("td", { class: "small nowrap" }, el("code", { title: e.hash }, e.hash.slice(0, 12))))));
  });

  function load() {
    const query = { limit: 50, action: field("a-action").value.trim(), actor: field("a-actor").value.trim() };
    return pager.start(WK.withQuery("/api/v1/audit/events", query));
  }

  field("audit-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  field("verify").addEventListener("click", verify);
  verify().catch((problem) => say(String(problem), true));
  load();
})();
