// Live rule checking in the segment builder: as the marketer types, the server parses the
// rule (the same parser PUT /v1/segments uses) and counts who matches on the serving model.
"use strict";
(function () {
  const editor = document.getElementById("rule");
  const status = document.getElementById("rule-status");
  if (!editor || !status) return;
  const caret = document.getElementById("rule-caret");
  const words = status.dataset;
  let timer = null;
  let sent = 0;

  async function check() {
    const mine = ++sent;
    const rule = editor.value;
    if (!rule.trim()) { status.textContent = ""; caret.textContent = ""; return; }
    const response = await fetch("/console/segments/check?rule=" + encodeURIComponent(rule), {
      headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store",
    });
    if (mine !== sent) return; // a newer keystroke's answer will come
    if (response.redirected || response.status === 401) { window.location.reload(); return; }
    const body = await response.json();
    if (body.valid) {
      status.className = "ok";
      status.textContent = words.valid + (body.size === null ? "" : " · " + body.size + " " + words.size);
      caret.textContent = "";
      editor.setAttribute("aria-invalid", "false");
    } else {
      status.className = "error";
      const where = body.error.line ? " (" + body.error.line + ":" + body.error.column + ")" : "";
      status.textContent = words.invalid + where + ": " + body.error.message;
      // The offending line with a caret under the error's column.
      const lines = rule.split("\n");
      const line = lines[(body.error.line || 1) - 1] || "";
      caret.textContent = line + "\n" + " ".repeat(Math.max((body.error.column || 1) - 1, 0)) + "^";
      editor.setAttribute("aria-invalid", "true");
    }
  }

  editor.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
  document.querySelectorAll("[data-example]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      editor.value = button.dataset.example;
      check();
    });
  });
  if (editor.value.trim()) check();
})();
