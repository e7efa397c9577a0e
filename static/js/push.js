// Web push subscribe button: shown when the browser can push and a service worker controls the app.
(function () {
  "use strict";

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (error) {
      return "";
    }
  }

  async function subscribe(button) {
    button.disabled = true;
    try {
      var registration = await navigator.serviceWorker.ready;
      var answer = await fetch("/push/key", { credentials: "same-origin" });
      var key = (await answer.json()).key;
      var subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(key),
      });
      var saved = await fetch("/push/subscribe", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "x-csrftoken": csrfToken() },
        body: JSON.stringify(subscription.toJSON()),
      });
      button.textContent = saved.ok ? button.dataset.done || "Push on" : "Push failed";
    } catch (error) {
      button.textContent = "Push unavailable";
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("push-subscribe");
    if (!button || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
    navigator.serviceWorker.getRegistration().then(function (registration) {
      if (!registration) return;
      button.hidden = false;
      button.addEventListener("click", function () { subscribe(button); });
    });
  });
})();
