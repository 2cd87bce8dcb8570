// Persons: enrol from several photos (drag and drop or file input), each checked by the API
// for one usable face before anything is stored; search by name; expiry; delete with reason.
"use strict";

(() => {
  const { el, api, say, fmtDate, fmtTime, badge, can } = WK;
  const field = (id) => document.getElementById(id);
  const checks = []; // { file, url, ok, item }
  let lists = [];

  // --- search --------------------------------------------------------------------------
  function expiryCell(p) {
    if (!p.expires_at) return el("td", {}, "none");
    const at = new Date(p.expires_at);
    const days = Math.ceil((at - new Date()) / 86400000);
    return el("td", {}, fmtDate(p.expires_at), " ",
      days <= 0 ? badge("expired", "expired — no longer matched")
        : days <= 14 ? badge("pending", `in ${days} day${days > 1 ? "s" : ""}`) : null);
  }

  function row(p) {
    return el("tr", { dataset: { id: p.id } },
      el("th", { scope: "row" }, p.name),
      el("td", {}, p.watchlist),
      el("td", {}, p.reason || "—"),
      expiryCell(p),
      el("td", { class: "num" }, String(p.photos.length)),
      el("td", {}, `${fmtTime(p.created_at)} by ${p.created_by}`),
      el("td", {}, can("persons:write")
        ? el("button", { type: "button", class: "ghost", "aria-label": `Delete ${p.name}`,
          onclick: () => remove(p) }, "Delete")
        : null));
  }

  const pager = new WK.Pager(document.querySelector(".pager"), (items) => {
    field("persons-empty").hidden = items.length > 0;
    field("persons").tBodies[0].replaceChildren(...items.map(row));
  });

  function search() {
    const query = { q: field("q").value.trim(), watchlist_id: field("search-list").value, limit: 25 };
    return pager.start(WK.withQuery("/api/v1/persons", query));
  }
  field("search").addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });

  async function remove(p) {
    const reason = await WK.askReason(`Delete ${p.name} with their photos and matches`);
    if (!reason) return;
    try {
      await api("DELETE", `/api/v1/persons/${p.id}`, { query: { reason } });
      say(`${p.name} deleted`);
      search();
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
  }

  async function loadLists() {
    lists = await WK.all("/api/v1/watchlists");
    const options = () => lists.map((w) => el("option", { value: w.id },
      `${w.name} (${WK.PURPOSES[w.purpose] || w.purpose})`));
    field("search-list").replaceChildren(el("option", { value: "" }, "All watchlists"), ...options());
    if (field("en-list")) field("en-list").replaceChildren(...options());
  }

  // --- enrolment -----------------------------------------------------------------------
  const form = field("enrol");
  if (form) {
    const zone = field("dropzone");
    const input = field("en-photos");
    const listing = field("photo-checks");
    const submit = field("enrol-submit");

    const refreshSubmit = () => {
      submit.disabled = !checks.some((c) => c.ok === true) || checks.some((c) => c.ok === null);
    };

    const faceCrop = (img, box) => {
      const canvas = el("canvas", { width: 96, height: 96, role: "img", "aria-label": "detected face" });
      const [x1, y1, x2, y2] = box;
      const side = Math.max(x2 - x1, y2 - y1) * 1.2;
      const cx = (x1 + x2) / 2;
      const cy = (y1 + y2) / 2;
      canvas.getContext("2d").drawImage(img, cx - side / 2, cy - side / 2, side, side, 0, 0, 96, 96);
      return canvas;
    };

    const check = async (entry) => {
      const data = new FormData();
      data.append("photo", entry.file, entry.file.name);
      data.append("largest_face", field("en-largest").checked ? "true" : "false");
      try {
        const result = await api("POST", "/api/v1/photos/check", { form: data });
        entry.ok = true;
        entry.item.className = "accepted";
        const [x1, y1, x2, y2] = result.face_box;
        const box = el("div", { class: "box" });
        box.style.left = `${(100 * x1) / result.width}%`;
        box.style.top = `${(100 * y1) / result.height}%`;
        box.style.width = `${(100 * (x2 - x1)) / result.width}%`;
        box.style.height = `${(100 * (y2 - y1)) / result.height}%`;
        entry.preview.append(box);
        const done = () => entry.face.replaceChildren(faceCrop(entry.img, result.face_box));
        if (entry.img.complete) done(); else entry.img.addEventListener("load", done, { once: true });
        entry.verdict.replaceChildren(el("span", {}, el("span", { class: "ok" },
          `Face found · quality ${result.quality.toFixed(2)} (minimum ${result.min_quality.toFixed(2)})`),
          result.faces_found > 1 ? el("span", { class: "muted" },
            ` · largest of ${result.faces_found} faces`) : null));
      } catch (problem) {
        entry.ok = false;
        entry.item.className = "refused";
        entry.verdict.replaceChildren(el("span", { class: "error", role: "alert" },
          `Refused: ${problem.detail || String(problem)}`));
      }
      refreshSubmit();
    };

    const add = (files) => {
      for (const file of files) {
        const url = URL.createObjectURL(file);
        const img = el("img", { src: url, alt: `photo ${file.name}` });
        const preview = el("div", { class: "preview" }, img);
        img.addEventListener("error", () => preview.replaceChildren(
          el("div", { class: "unreadable" }, "The browser cannot show this file")), { once: true });
        const face = el("div");
        const verdict = el("div", { class: "small" }, "Checking…");
        const entry = { file, url, ok: null, img, preview, face, verdict };
        const removeButton = el("button", { type: "button", class: "ghost",
          "aria-label": `Remove ${file.name}`, onclick: () => {
            checks.splice(checks.indexOf(entry), 1);
            URL.revokeObjectURL(url);
            entry.item.remove();
            refreshSubmit();
          } }, "Remove");
        entry.item = el("li", { dataset: { name: file.name } },
          preview, el("div", { class: "row spread" }, el("strong", {}, file.name), removeButton),
          el("div", { class: "row" }, face, verdict));
        checks.push(entry);
        listing.append(entry.item);
        check(entry);
      }
      refreshSubmit();
    };

    input.addEventListener("change", () => {
      add([...input.files]);
      input.value = "";
    });
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      add([...event.dataTransfer.files].filter((f) => f.type.startsWith("image/") || !f.type));
    });
    field("en-largest").addEventListener("change", () => {
      for (const entry of checks) {
        entry.ok = null;
        entry.preview.querySelectorAll(".box").forEach((b) => b.remove());
        entry.face.replaceChildren();
        entry.verdict.textContent = "Checking…";
        check(entry);
      }
      refreshSubmit();
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      field("enrol-error").textContent = "";
      const good = checks.filter((c) => c.ok === true);
      const data = new FormData();
      data.append("name", field("en-name").value.trim());
      if (field("en-reason").value.trim()) data.append("reason", field("en-reason").value.trim());
      const expires = WK.isoFromLocal(field("en-expires").value, true);
      if (expires) data.append("expires_at", expires);
      data.append("largest_face", field("en-largest").checked ? "true" : "false");
      good.forEach((c) => data.append("photos", c.file, c.file.name));
      const listId = field("en-list").value;
      const list = lists.find((w) => String(w.id) === listId);
      try {
        const made = await api("POST", `/api/v1/watchlists/${listId}/persons`, { form: data });
        say(`${made.name} enrolled on ${made.watchlist} with ${made.photos.length} photo(s)` +
          (list && list.purpose === "wanted_person"
            ? "; it matches once a second supervisor approves" : ""));
        form.reset();
        checks.splice(0).forEach((c) => URL.revokeObjectURL(c.url));
        listing.replaceChildren();
        refreshSubmit();
        search();
      } catch (problem) {
        field("enrol-error").textContent = problem.detail || String(problem);
      }
    });
  }

  loadLists().then(search).catch((problem) => say(problem.detail || String(problem), true));
})();
