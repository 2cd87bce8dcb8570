// Watchkeeper console: what every page shares. Plain JavaScript, no build step.
// Every change goes to the REST API with the session cookie and the CSRF token
// (the readable wk_csrf cookie, sent as X-CSRF-Token); errors arrive as
// application/problem+json and are shown with their detail.
"use strict";

const WK = (() => {
  const body = document.body;
  const permissions = new Set((body.dataset.permissions || "").split(" ").filter(Boolean));
  const user = body.dataset.user || "";

  function can(permission) {
    return permissions.has(permission);
  }

  function cookie(name) {
    const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  class Problem extends Error {
    constructor(status, title, detail) {
      super(detail || title);
      this.status = status;
      this.title = title;
      this.detail = detail || title;
    }
  }

  function withQuery(path, query) {
    if (!query) return path;
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, value);
    }
    const text = params.toString();
    return text ? `${path}?${text}` : path;
  }

  // A `next` link of the API is absolute; keep it on this origin, whatever host it names.
  function local(url) {
    const parsed = new URL(url, location.origin);
    return parsed.pathname + parsed.search;
  }

  async function api(method, path, { json, form, query } = {}) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = cookie("wk_csrf");
    let payload;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(json);
    } else if (form !== undefined) {
      payload = form;
    }
    const reply = await fetch(withQuery(path, query), {
      method, headers, body: payload, credentials: "same-origin",
    });
    if (reply.status === 401 && !path.endsWith("/auth/login")) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new Problem(401, "Unauthorized", "your session has ended: log in again");
    }
    if (!reply.ok) {
      let doc = {};
      try { doc = await reply.json(); } catch { /* not JSON: use the status line */ }
      throw new Problem(reply.status, doc.title || reply.statusText, doc.detail);
    }
    if (reply.status === 204) return null;
    return reply.json();
  }

  // Build DOM from data without ever parsing it as HTML: names from people may hold markup.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // A short notice in the corner (and to screen readers); at most three at a time.
  function say(message, bad = false) {
    const region = document.getElementById("status");
    const line = el("p", { class: bad ? "bad" : "" }, message);
    region.append(line);
    while (region.children.length > 3) region.firstElementChild.remove();
    setTimeout(() => line.remove(), bad ? 8000 : 4000);
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  function fmtTime(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
      `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function fmtDate(iso) {
    return iso ? fmtTime(iso).slice(0, 10) : "—";
  }

  // <input type="datetime-local"> or "date" value (local time) -> ISO with zone, or "".
  function isoFromLocal(value, endOfDay = false) {
    if (!value) return "";
    const text = value.length === 10 ? value + (endOfDay ? "T23:59:59" : "T00:00:00") : value;
    return new Date(text).toISOString();
  }

  function localInput(date) {
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
      `T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  const PURPOSES = {
    missing_person: "Missing person",
    wanted_person: "Wanted person",
    victim_identification: "Victim identification",
    security: "Security",
    other: "Other",
  };

  function badge(state, text) {
    return el("span", { class: `badge ${state}` }, text || state);
  }

  // Ask for an audit reason in the shared dialog; resolves to the text, or null if cancelled.
  function askReason(title) {
    const dialog = document.getElementById("reason-dialog");
    const text = document.getElementById("reason-text");
    document.getElementById("reason-title").textContent = title;
    text.value = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        resolve(dialog.returnValue === "ok" && text.value.trim().length >= 3
          ? text.value.trim() : null);
      }, { once: true });
      dialog.showModal();
      text.focus();
    });
  }

  // Keyset paging over an API list: remembers the pages seen so "newer" can go back.
  class Pager {
    constructor(root, load) {
      this.older = root.querySelector('[data-pager="older"]');
      this.newer = root.querySelector('[data-pager="newer"]');
      this.load = load;
      this.stack = [];
      this.next = null;
      this.older.addEventListener("click", () => this.go(this.next, true));
      this.newer.addEventListener("click", () => {
        this.stack.pop();
        this.go(this.stack[this.stack.length - 1], false);
      });
    }
    start(url) {
      this.stack = [];
      return this.go(url, true);
    }
    async go(url, forward) {
      if (!url) return;
      if (forward) this.stack.push(url);
      try {
        const page = await api("GET", local(url));
        this.next = page.next ? local(page.next) : null;
        this.older.disabled = !this.next;
        this.newer.disabled = this.stack.length < 2;
        this.load(page.items, this.stack.length);
      } catch (error) {
        say(error.detail || String(error), true);
      }
    }
  }

  async function all(path, query = {}) {
    const page = await api("GET", path, { query: { limit: 500, ...query } });
    return page.items;
  }

  const logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", async () => {
      try { await api("POST", "/api/v1/auth/logout"); } catch { /* gone already */ }
      location.assign("/login");
    });
  }

  return {
    all, api, askReason, badge, can, el, fmtDate, fmtTime, isoFromLocal, local, localInput,
    Pager, Problem, PURPOSES, say, user, withQuery,
  };
})();
