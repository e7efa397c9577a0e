// Suggested and saved answers: a button fills a form's fields with its text, which stays editable before sending.
// <button data-fill='{"#reason": "text", "#remedy": "replacement"}' data-check="#respond-form [value=accept]">
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const button = event.target instanceof Element ? event.target.closest("[data-fill]") : null;
    if (!button) {
      return;
    }
    event.preventDefault();
    let fields = {};
    try {
      fields = JSON.parse(button.getAttribute("data-fill") || "{}");
    } catch (error) {
      return;
    }
    let first = null;
    for (const [selector, value] of Object.entries(fields)) {
      const field = document.querySelector(selector);
      if (field && "value" in field) {
        field.value = String(value);
        field.dispatchEvent(new Event("input", { bubbles: true }));
        first = first || field;
      }
    }
    const check = button.getAttribute("data-check");
    const box = check ? document.querySelector(check) : null;
    if (box && "checked" in box) {
      box.checked = true;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
    if (first && typeof first.focus === "function") {
      first.focus();
    }
  });
})();
