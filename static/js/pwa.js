// The installable app on the page side: registers the service worker, shows the "not sent" badge,
// replays the offline queue (static/js/queue.js) when the page loads or the network returns, renders
// the "not sent" page, and clears this phone's copies on sign-out.
(function () {
  "use strict";

  const queue = window.CrossclaimQueue;

  function csrfToken() {
    const field = document.querySelector("input[name='_csrf_token']");
    return field ? field.value : "";
  }

  async function updateBadge() {
    const badge = document.getElementById("queue-badge");
    if (!badge || !queue) {
      return;
    }
    const count = await queue.count().catch(() => 0);
    badge.querySelector("[data-queue-count]").textContent = String(count);
    badge.hidden = count === 0;
  }

  // Problem types in the page's language, as the server wrote them into the queue page.
  function problemLabels(holder) {
    try {
      return JSON.parse(holder.dataset.problemTypes || "{}");
    } catch (error) {
      return {};
    }
  }

  function describe(item, labels) {
    const field = (name) => (item.fields.find(([key]) => key === name) || [null, ""])[1];
    const code = field("problem_type");
    const parts = [field("order_number") || field("product_sku"), labels[code] || code.replace(/_/g, " ")];
    return parts.filter(Boolean).join(" · ") || item.key.slice(0, 8);
  }

  // Dates as the page's language writes them (2026年12月7日 under 中文), not the browser's default.
  function when(moment) {
    const language = document.documentElement.lang || undefined;
    try {
      return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(new Date(moment));
    } catch (error) {
      return new Date(moment).toLocaleString();
    }
  }

  async function renderQueue() {
    const holder = document.querySelector("[data-queue-list]");
    const template = document.querySelector("template[data-queue-row]");
    if (!holder || !template || !queue) {
      return;
    }
    const say = holder.dataset;
    const labels = problemLabels(holder);
    const items = await queue.list();
    const rows = items.map((item) => {
      const node = template.content.firstElementChild.cloneNode(true);
      node.dataset.key = item.key;
      node.dataset.state = item.state;
      node.querySelector("[data-title]").textContent = describe(item, labels);
      const state = item.state === "failed" && item.needsSignIn ? "signIn" : item.state;
      node.dataset.state = state;
      node.querySelector("[data-state]").textContent =
        say["text" + state.charAt(0).toUpperCase() + state.slice(1)] || item.state;
      node.querySelector("[data-when]").textContent = when(item.created) + " · " + item.files.length + " " + say.textPhotos;
      const error = node.querySelector("[data-error]");
      // A lost session is said once, in words, above the list; the server's own reason only for content.
      error.textContent = state === "signIn" ? "" : item.error;
      error.hidden = !error.textContent;
      // A report the server refused for its content is corrected on the intake form, photos and all.
      const fix = node.querySelector("[data-fix]");
      if (fix) {
        fix.href = "/intake#fix=" + encodeURIComponent(item.key);
        fix.hidden = item.state !== "failed" || Boolean(item.needsSignIn);
      }
      node.querySelector("[data-resend]").addEventListener("click", async (event) => {
        event.currentTarget.disabled = true;
        // A person resending refreshes the credentials: this page's token, after signing in again.
        await queue.resend(item.key, csrfToken());
        await refresh();
      });
      node.querySelector("[data-discard]").addEventListener("click", async () => {
        if (window.confirm(say.textConfirmDiscard)) {
          await queue.remove(item.key);
          await refresh();
        }
      });
      return node;
    });
    if (rows.length === 0) {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.dataset.queueEmpty = "";
      empty.textContent = say.textEmpty;
      rows.push(empty);
    }
    holder.replaceChildren(...rows);
  }

  // Reports refused for a lost session: after a replay they are still here only when this page's
  // session is gone too (a signed-in page sends them by itself), so say so, with the way to sign in.
  async function showSignIn() {
    const banner = document.querySelector("[data-queue-sign-in]");
    if (!banner || !queue) {
      return;
    }
    const waiting = (await queue.list().catch(() => [])).filter((item) => item.state === "failed" && item.needsSignIn);
    banner.hidden = waiting.length === 0;
    const text = waiting.length === 1 ? banner.dataset.textOne : banner.dataset.textMany.replace("__N__", waiting.length);
    banner.querySelector("[data-sign-in-text]").textContent = text;
  }

  async function refresh() {
    await Promise.all([updateBadge(), renderQueue(), showSignIn()]);
  }

  async function replay() {
    if (!queue || navigator.onLine === false) {
      return;
    }
    // The sign-out form is on every signed-in page: reports refused for a lost session go again now.
    await queue.replay({ signedIn: Boolean(document.getElementById("logout-form")) }).catch(() => {});
    await refresh();
  }

  async function signOut(form) {
    const count = queue ? await queue.count().catch(() => 0) : 0;
    const badge = document.getElementById("queue-badge");
    if (count > 0 && !window.confirm((badge && badge.dataset.textConfirmLogout) || "Unsent reports will be lost.")) {
      return;
    }
    // The server also sends Clear-Site-Data; this covers browsers that ignore it.
    try {
      if (queue) {
        await queue.clear();
      }
      if (window.caches) {
        for (const name of await caches.keys()) {
          await caches.delete(name);
        }
      }
    } finally {
      form.submit();
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.id === "logout-form") {
      event.preventDefault();
      signOut(form);
    }
  });

  window.addEventListener("online", replay);

  if (typeof BroadcastChannel === "function" && queue) {
    new BroadcastChannel(queue.CHANNEL).addEventListener("message", () => refresh());
  }

  function start() {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
      if (navigator.serviceWorker.controller && document.getElementById("queue-badge")) {
        navigator.serviceWorker.controller.postMessage({ type: "shell" });
      }
    }
    if (document.querySelector("[data-queue-list]") && navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(() => {});
    }
    Promise.all([updateBadge(), renderQueue()]).then(replay);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
