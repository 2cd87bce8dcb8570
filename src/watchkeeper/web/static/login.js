// Login: the API sets the session and CSRF cookies; then go where the user was going.
"use strict";

(() => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const data = new FormData(form);
    try {
      await WK.api("POST", "/api/v1/auth/login", {
        json: { username: data.get("username"), password: data.get("password") },
      });
      location.assign(form.dataset.next || "/");
    } catch (problem) {
      error.textContent = problem.detail || String(problem);
      document.getElementById("password").select();
    }
  });
})();
