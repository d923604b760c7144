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
    if (!rule.trim()) { status.textContent = ""; caret.replaceChildren(); return; }
    const response = await fetch("/console/segments/check?rule=" + encodeURIComponent(rule), {
      headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store",
    });
    if (mine !== sent) return; // a newer keystroke's answer will come
    if (response.redirected || response.status === 401) { window.location.reload(); return; }
    const body = await response.json();
    if (body.valid) {
      status.className = "ok";
      status.textContent = words.valid + (body.size === null ? "" : " · " + body.size + " " + words.size);
      caret.replaceChildren();
      editor.setAttribute("aria-invalid", "false");
    } else {
      status.className = "error";
      status.textContent = words.invalid + ": " + body.error.message;
      // The rule up to the error, then the offending character marked (a space past the end).
      const at = Math.min(Math.max(body.error.position || 0, 0), rule.length);
      const mark = document.createElement("mark");
      mark.textContent = rule.slice(at, at + 1) || " ";
      caret.replaceChildren(document.createTextNode(rule.slice(0, at)), mark);
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
