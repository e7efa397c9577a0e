// Crossclaim's service worker: keeps the intake page and its assets on the phone, falls back to an
// offline page, and sends queued reports (static/js/queue.js) when the network returns.
"use strict";

importScripts("/static/js/queue.js");

// Filled in by the server (app/routes/pwa.py): the files to precache — the offline page, the manifest
// and the files under static/ that it hashes — and the version hashed from this file and those.
const VERSION = "__CACHE_VERSION__";
const CACHE = "crossclaim-" + VERSION;
const ASSETS = ["__PRECACHE__"];
// Signed-in pages kept for offline use; stored when fetched while signed in, never required.
const SHELL = ["/intake", "/queue"];

// The cached intake page carries no client key: each page opened from the cache makes its own
// (static/js/intake.js), so two reports filed offline are never mistaken for one.
async function storable(path, response) {
  if (path !== "/intake") {
    return response;
  }
  const html = (await response.text()).replace(
    /(<input[^>]*name="client_key"[^>]*value=")[^"]*(")/,
    "$1$2"
  );
  return new Response(html, { status: response.status, headers: response.headers });
}

async function keepPage(path, response) {
  if (!response.ok || response.redirected || response.type !== "basic") {
    return;
  }
  const cache = await caches.open(CACHE);
  await cache.put(path, await storable(path, response));
}

async function refreshPage(path) {
  try {
    await keepPage(path, await fetch(path, { credentials: "same-origin" }));
  } catch (error) {
    // Offline: the stored copy stays.
  }
}

async function precacheShell(missingOnly) {
  const cache = await caches.open(CACHE);
  for (const path of SHELL) {
    if (missingOnly && (await cache.match(path, { ignoreVary: true }))) {
      continue;
    }
    try {
      await keepPage(path, await fetch(path, { credentials: "same-origin" }));
    } catch (error) {
      // Signed out or offline at install: the page is stored the next time it is opened.
    }
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(ASSETS))
      .then(() => precacheShell(false))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((name) => name.startsWith("crossclaim-") && name !== CACHE).map((n) => caches.delete(n)))
      )
      .then(() => self.clients.claim())
      .then(() => CrossclaimQueue.replay())
  );
});

async function navigate(request) {
  const path = new URL(request.url).pathname;
  try {
    const response = await fetch(request);
    if (SHELL.includes(path)) {
      keepPage(path, response.clone()).catch(() => {});
    }
    return response;
  } catch (error) {
    const cache = await caches.open(CACHE);
    return (
      (await cache.match(path, { ignoreSearch: true, ignoreVary: true })) ||
      (await cache.match("/offline", { ignoreVary: true })) ||
      Response.error()
    );
  }
}

async function asset(request) {
  const cached = await caches.match(request, { ignoreSearch: true, cacheName: CACHE });
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // htmx asks for fragments: a cached full page (or a stale fragment) is never the right answer.
  if (request.method !== "GET" || url.origin !== self.location.origin || request.headers.has("HX-Request")) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(navigate(request));
  } else if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(asset(request));
  }
});

self.addEventListener("sync", (event) => {
  if (event.tag === CrossclaimQueue.SYNC_TAG) {
    event.waitUntil(CrossclaimQueue.replay());
  }
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "replay") {
    event.waitUntil(CrossclaimQueue.replay());
  }
  // A signed-in page asks for the shell: installed before signing in, the worker could not store it.
  // The offline page is stored again each time, so it follows the language and sign-in of today, not
  // of the day the app was installed.
  if (event.data && event.data.type === "shell") {
    event.waitUntil(precacheShell(true).then(() => refreshPage("/offline")));
  }
});

// Every start of the worker is a chance the network is back (no Background Sync on Safari or Firefox).
CrossclaimQueue.replay().catch(() => {});
