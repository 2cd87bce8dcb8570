// Live alerts: the queue (newest first) fed by the SSE stream, the selected alert beside it
// with the live face crop and the enrolled photo(s), and the review with a comment.
// Keys: j/k move, c/r/e decide, n comment, m mute. A Web Audio beep marks a new alert.
"use strict";

(() => {
  const { el, api, say, fmtTime, badge, can } = WK;
  const queue = document.getElementById("queue");
  const detail = document.getElementById("detail");
  const empty = document.getElementById("queue-empty");
  const openOnly = document.getElementById("open-only");
  const live = document.getElementById("live");
  const muteButton = document.getElementById("mute");
  const canReview = can("alerts:review");
  const canPhotos = can("persons:photos:view");

  const alerts = new Map(); // id -> alert document
  const drafts = new Map(); // id -> comment being written
  const persons = new Map(); // person id -> Promise of the person (photo list)
  const images = new Map(); // key -> <img>, so a re-render never fetches (or audits) again
  let watchlists = new Map();
  let selected = null;
  let muted = localStorage.getItem("wk.muted") === "1";
  let audio = null;

  // --- sound ---------------------------------------------------------------------------
  function ensureAudio() {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
    } catch { audio = null; }
  }
  document.addEventListener("pointerdown", ensureAudio, { once: true });
  document.addEventListener("keydown", ensureAudio, { once: true });

  function cue() {
    document.body.dataset.cues = String(Number(document.body.dataset.cues || 0) + 1);
    if (muted) return;
    ensureAudio();
    if (!audio) return;
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.25, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.5);
    gain.connect(audio.destination);
    [880, 1175].forEach((frequency, i) => {
      const tone = audio.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start(now + i * 0.18);
      tone.stop(now + 0.5);
    });
  }

  function showMute() {
    muteButton.setAttribute("aria-pressed", String(muted));
    muteButton.textContent = muted ? "Muted" : "Sound on";
  }
  function toggleMute() {
    muted = !muted;
    localStorage.setItem("wk.muted", muted ? "1" : "0");
    showMute();
  }
  muteButton.addEventListener("click", toggleMute);
  showMute();

  // --- data ----------------------------------------------------------------------------
  const isOpen = (a) => a.state === "new" || a.state === "escalated";

  function image(key, url, alt) {
    if (!images.has(key)) images.set(key, el("img", { src: url, alt, decoding: "async" }));
    return images.get(key);
  }

  function twoPerson(a) {
    const n = a.confirmed_by.length;
    const need = a.confirmations_required;
    return `${n} of ${need} confirmation${need > 1 ? "s" : ""}`;
  }

  function person(id) {
    if (!persons.has(id)) persons.set(id, api("GET", `/api/v1/persons/${id}`));
    return persons.get(id);
  }

  async function loadWatchlists() {
    const items = await WK.all("/api/v1/watchlists");
    watchlists = new Map(items.map((w) => [w.id, w]));
  }

  function upsert(doc, fresh) {
    const known = alerts.get(doc.id);
    if (known && known.updated_at > doc.updated_at) return;
    alerts.set(doc.id, doc);
    if (!watchlists.has(doc.watchlist.id)) loadWatchlists().then(() => render()).catch(() => {});
    let detailToo = doc.id === selected;
    if (selected === null && isOpen(doc)) {
      selected = doc.id;
      detailToo = true;
    }
    render(fresh ? doc.id : null, detailToo);
  }

  function visible() {
    return [...alerts.values()]
      .filter((a) => !openOnly.checked || isOpen(a))
      .sort((a, b) => b.id - a.id);
  }

  // --- rendering -----------------------------------------------------------------------
  // The detail is redrawn only when its alert changed, and keeps a comment being typed.
  function render(freshId = null, detailToo = true) {
    const shown = visible();
    empty.hidden = shown.length > 0;
    queue.replaceChildren(...shown.map((a) => queueItem(a, a.id === freshId)));
    const open = [...alerts.values()].filter(isOpen).length;
    document.title = `${open ? `(${open}) ` : ""}Live alerts · Watchkeeper`;
    if (!detailToo) return;
    const typing = document.activeElement && document.activeElement.id === "comment";
    renderDetail();
    const box = document.getElementById("comment");
    if (typing && box) {
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }
  }

  function queueItem(a, fresh) {
    const item = el("li", {
      id: `alert-${a.id}`, role: "option", "aria-selected": String(a.id === selected),
      class: `${fresh ? "fresh" : ""} ${isOpen(a) ? "" : "decided"}`,
      dataset: { id: a.id, state: a.state },
      onclick: () => select(a.id),
    },
    image(`thumb-${a.id}`, a.crop_url, `face seen on ${a.camera.name}`),
    el("div", {},
      el("div", { class: "who-line" }, a.person.name),
      el("div", { class: "meta" }, `${a.camera.name} · ${fmtTime(a.last_seen)}`)),
    el("div", { class: "stack" },
      badge(a.state),
      a.confirmations_required > 1 && isOpen(a)
        ? el("span", { class: "meta" }, `${a.confirmed_by.length}/${a.confirmations_required}`)
        : null));
    return item;
  }

  function photoFigures(a) {
    const box = el("div", { class: "faces-enrolled faces" });
    if (!canPhotos) {
      box.append(el("div", { class: "no-photo" },
        `Enrolled photos are not shown to the ${document.body.dataset.role} role`));
      return box;
    }
    person(a.person.id).then((p) => {
      const photos = [...p.photos].sort((x, y) => (y.id === a.photo_id) - (x.id === a.photo_id));
      box.replaceChildren(...photos.slice(0, 4).map((photo) => el("figure",
        { class: photo.id === a.photo_id ? "matched" : "" },
        image(`photo-${photo.id}`, photo.url, `enrolled photo ${photo.id} of ${p.name}`),
        el("figcaption", {}, photo.id === a.photo_id
          ? `Enrolled photo (matched) · quality ${photo.quality.toFixed(2)}`
          : `Enrolled photo · quality ${photo.quality.toFixed(2)}`))));
    }).catch((problem) => {
      box.replaceChildren(el("div", { class: "no-photo" }, problem.detail || String(problem)));
    });
    return box;
  }

  function renderDetail() {
    const a = alerts.get(selected);
    if (!a) {
      detail.replaceChildren(
        el("h2", { id: "detail-title" }, "Select an alert"),
        el("p", { class: "muted" }, "Use j and k to move through the queue."));
      return;
    }
    const list = watchlists.get(a.watchlist.id);
    const purpose = list ? WK.PURPOSES[list.purpose] || list.purpose : "…";
    const comment = el("textarea", {
      id: "comment", rows: 2, maxlength: 2000, "aria-describedby": "decide-help",
      oninput: (event) => drafts.set(a.id, event.target.value),
    });
    comment.value = drafts.get(a.id) || "";
    const mine = a.confirmed_by.includes(WK.user);
    const decidable = canReview && isOpen(a);
    const reviews = a.reviews.map((r) => el("li", {},
      `${r.reviewer} ${r.decision === "confirm" ? "confirmed" : r.decision + "ed"} at ${fmtTime(r.at)}`,
      r.comment ? ` — “${r.comment}”` : ""));
    detail.replaceChildren(...[
      el("div", { class: "row spread" },
        el("h2", { id: "detail-title" }, a.person.name),
        el("span", { class: "muted" }, `Alert ${a.id}`)),
      el("div", { class: "row" },
        badge(a.state),
        el("span", {
          class: `two-person ${a.actionable ? "done" : ""}`, id: "two-person",
        }, a.actionable ? `Confirmed by ${a.confirmed_by.join(" and ")} — actionable`
          : twoPerson(a)),
        a.count > 1 ? el("span", { class: "muted" }, `seen ${a.count} times`) : null),
      el("div", { class: "evidence" },
        el("div", { class: "faces" },
          el("figure", {},
            image(`crop-${a.id}`, a.crop_url, `live face crop from ${a.camera.name}`),
            el("figcaption", {}, `Live · ${a.camera.name}`)),
          photoFigures(a)),
        el("dl", { class: "facts" },
          el("dt", {}, "Score"),
          el("dd", {}, el("span", { class: "score" }, a.score.toFixed(3)),
            el("span", { class: "muted" }, ` threshold ${a.threshold.toFixed(3)}`)),
          el("dt", {}, "Watchlist"), el("dd", {}, a.watchlist.name),
          el("dt", {}, "Purpose"), el("dd", {}, purpose),
          el("dt", {}, "Legal basis"), el("dd", {}, list ? list.legal_basis : "…"),
          el("dt", {}, "Camera"), el("dd", {}, `${a.camera.name} (group ${a.camera.group})`),
          el("dt", {}, "Seen"),
          el("dd", {}, `${fmtTime(a.first_seen)} – ${fmtTime(a.last_seen).slice(11)}`))),
      reviews.length ? el("h3", {}, "Reviews") : null,
      reviews.length ? el("ul", { class: "reviews" }, reviews) : null,
      canReview ? el("div", { class: "decide" },
        el("label", { for: "comment" }, "Comment (kept with the review)"),
        comment,
        el("small", { id: "decide-help", class: "muted" }, mine
          ? "You have confirmed this alert; another reviewer must confirm it too."
          : "Keys: c confirm, r reject, e escalate, n comment."),
        el("div", { class: "row" },
          el("button", { type: "button", class: "confirm", disabled: !decidable || mine,
            onclick: () => decide("confirm") }, "Confirm (c)"),
          el("button", { type: "button", class: "reject", disabled: !decidable,
            onclick: () => decide("reject") }, "Reject (r)"),
          el("button", { type: "button", class: "escalate", disabled: !decidable,
            onclick: () => decide("escalate") }, "Escalate (e)")))
        : el("p", { class: "muted" }, "Your role may see alerts but not review them."),
    ].filter(Boolean));
  }

  // --- actions -------------------------------------------------------------------------
  function select(id) {
    selected = id;
    render();
    const item = document.getElementById(`alert-${id}`);
    if (item) {
      item.scrollIntoView({ block: "nearest" });
      queue.setAttribute("aria-activedescendant", item.id);
    }
  }

  function move(step) {
    const ids = visible().map((a) => a.id);
    if (!ids.length) return;
    const at = ids.indexOf(selected);
    const next = at < 0 ? 0 : Math.min(ids.length - 1, Math.max(0, at + step));
    select(ids[next]);
  }

  async function decide(decision) {
    const a = alerts.get(selected);
    if (!a || !canReview) return;
    try {
      const doc = await api("POST", `/api/v1/alerts/${a.id}/review`, {
        json: { decision, comment: (drafts.get(a.id) || "").trim() || null },
      });
      drafts.delete(a.id);
      upsert(doc, false);
      const verb = { confirm: "confirmed", reject: "rejected", escalate: "escalated" }[decision];
      say(`Alert ${a.id} ${verb}${doc.state === "new" ? ` (${twoPerson(doc)})` : ""}`);
      if (!isOpen(doc)) {
        const next = visible().find((x) => isOpen(x) && x.id !== doc.id);
        if (next) select(next.id);
      }
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.matches("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (document.querySelector("dialog[open]")) return;
    const actions = {
      j: () => move(1), k: () => move(-1), ArrowDown: () => move(1), ArrowUp: () => move(-1),
      c: () => decide("confirm"), r: () => decide("reject"), e: () => decide("escalate"),
      m: toggleMute,
      n: () => { const box = document.getElementById("comment"); if (box) box.focus(); },
    };
    const action = actions[event.key];
    if (!action) return;
    if (event.key.startsWith("Arrow") && target !== queue) return;
    event.preventDefault();
    action();
  });
  openOnly.addEventListener("change", () => render());

  // --- live stream ---------------------------------------------------------------------
  function connect() {
    const source = new EventSource("/api/v1/events");
    source.addEventListener("open", () => {
      live.dataset.state = "open";
      live.textContent = "Live";
    });
    source.addEventListener("error", () => {
      live.dataset.state = "error";
      live.textContent = "Reconnecting…";
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up by itself on an answer that is not a stream: a 401 once the
        // session has ended (api() then sends the user to log in) or a 503; else retry.
        api("GET", "/api/v1/auth/me").then(() => setTimeout(connect, 3000)).catch(() => {});
      }
    });
    source.addEventListener("alert.created", (event) => {
      const doc = JSON.parse(event.data);
      const known = alerts.has(doc.id);
      upsert(doc, true);
      if (!known) {
        cue();
        say(`New alert: ${doc.person.name} on ${doc.camera.name}`);
      }
    });
    source.addEventListener("alert.updated", (event) => upsert(JSON.parse(event.data), false));
  }

  async function start() {
    connect();
    try {
      await loadWatchlists();
      const page = await api("GET", "/api/v1/alerts", { query: { limit: 100 } });
      for (const doc of page.items) {
        const known = alerts.get(doc.id);
        if (!known || known.updated_at <= doc.updated_at) alerts.set(doc.id, doc);
      }
      if (selected === null) {
        const first = visible().find(isOpen);
        selected = first ? first.id : null;
      }
      render();
    } catch (problem) {
      say(problem.detail || String(problem), true);
    }
  }
  start();
})();
