// The offline report queue: intake posts that could not reach the server, kept in IndexedDB with
// their fields, photos and client key, and replayed later. Plain script for both the page and the
// service worker (importScripts); replays are exactly-once because the server files one case per key.
(function (scope) {
  "use strict";

  const DB_NAME = "crossclaim";
  const STORE = "reports";
  const CHANNEL = "crossclaim-queue";
  const SYNC_TAG = "crossclaim-intake";
  // Times a report refused for a lost session is sent again by signed-in pages before it waits for a person.
  const MAX_SIGN_IN_RETRIES = 3;
  // One send may take this long (photos on a slow line) before it is given up and tried again later:
  // a send that hangs must not hold the queue (the server may already have the report; keys make it once).
  // The intake form's live send waits as long (its hx-request timeout) before the report comes here.
  // A page may set a shorter limit before this script runs (the browser test of a hung send does).
  const SEND_TIMEOUT_MS = Number(scope.CROSSCLAIM_SEND_TIMEOUT_MS) || 90000;

  function request(req) {
    return new Promise((resolve, reject) => {
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  function open() {
    const req = scope.indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE, { keyPath: "key" });
    };
    return request(req);
  }

  async function withStore(mode, work) {
    const db = await open();
    try {
      const tx = db.transaction(STORE, mode);
      const done = new Promise((resolve, reject) => {
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
      const result = await work(tx.objectStore(STORE));
      await done;
      return result;
    } finally {
      db.close();
    }
  }

  // Pages update their badge and list when any tab or the worker changes the queue.
  function announce() {
    if (typeof scope.BroadcastChannel === "function") {
      const channel = new scope.BroadcastChannel(CHANNEL);
      channel.postMessage({ type: "changed" });
      channel.close();
    }
  }

  function list() {
    return withStore("readonly", (store) => request(store.getAll())).then((items) =>
      items.sort((a, b) => a.created - b.created)
    );
  }

  function get(key) {
    return withStore("readonly", (store) => request(store.get(key)));
  }

  async function put(item) {
    await withStore("readwrite", (store) => request(store.put(item)));
    announce();
    return item;
  }

  async function remove(key) {
    await withStore("readwrite", (store) => request(store.delete(key)));
    announce();
  }

  async function clear() {
    await withStore("readwrite", (store) => request(store.clear()));
    announce();
  }

  async function count() {
    return (await list()).length;
  }

  // A FormData as it was about to be posted: text fields in order, files as blobs with their names.
  async function add(action, formData, csrf) {
    const fields = [];
    const files = [];
    for (const [name, value] of formData.entries()) {
      if (typeof value === "string") {
        fields.push([name, value]);
      } else {
        files.push({ field: name, name: value.name || "photo", type: value.type, blob: value });
      }
    }
    const key = (fields.find(([name]) => name === "client_key") || [null, ""])[1];
    if (!key) {
      throw new Error("a queued report needs its client key");
    }
    const item = await put({
      key: key,
      action: action,
      fields: fields,
      files: files,
      csrf: csrf || "",
      state: "waiting",
      error: "",
      attempts: 0,
      created: Date.now(),
    });
    await askForSync();
    return item;
  }

  async function askForSync() {
    try {
      // getRegistration, not ready: `ready` never settles where no worker is registered (blocked, not yet
      // installed), and the report must still be kept.
      const registration = scope.registration || (await scope.navigator.serviceWorker.getRegistration());
      if (registration && registration.sync) {
        await registration.sync.register(SYNC_TAG);
      }
    } catch (error) {
      // No Background Sync here (Safari, Firefox): the online event and page loads replay instead.
    }
  }

  function bodyOf(item) {
    const body = new FormData();
    for (const [name, value] of item.fields) {
      body.append(name, value);
    }
    for (const file of item.files) {
      body.append(file.field, file.blob, file.name);
    }
    return body;
  }

  function reasonOf(status, text) {
    const plain = String(text || "")
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
      .replace(/<[^>]+>/g, " ")
      .replace(/&amp;/g, "&")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&#39;|&#x27;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/\s+/g, " ")
      .trim();
    return "HTTP " + status + (plain ? ": " + plain.slice(0, 400) : "");
  }

  // A current CSRF token, read from a small page: a token kept with a report goes stale when the
  // browser's CSRF cookie changes (restarts, cleared cookies), and the report must not be refused for it.
  async function freshToken() {
    try {
      const html = await (await scope.fetch("/offline", { credentials: "same-origin" })).text();
      const found = html.match(/name="_csrf_token" value="([^"]+)"/);
      return found ? found[1] : "";
    } catch (error) {
      return "";
    }
  }

  function post(item, token) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
    return scope
      .fetch(item.action, {
        method: "POST",
        body: bodyOf(item),
        credentials: "same-origin",
        // Not an htmx request: the server knows a replay by its own header, files it without asking again
        // whether it is a new case (it was sent on purpose), and answers with a status, not a page.
        headers: { "X-CSRFToken": token, "X-Crossclaim-Replay": "1" },
        signal: controller.signal,
      })
      .finally(() => clearTimeout(timer));
  }

  // One post of one item. "sent" removes it; "offline" leaves it waiting; "timeout" leaves it waiting
  // and lets the next item go; "refused" keeps it with the server's reason until someone resends or
  // discards it: nothing is dropped silently.
  async function send(item, csrf) {
    let token = csrf || item.csrf;
    await put({ ...item, state: "sending", attempts: item.attempts + 1 });
    let response;
    try {
      response = await post(item, token);
      if (response.status === 403 && !csrf) {
        // Once, with a fresh token: an automatic replay has no page whose token it could use.
        const fresh = await freshToken();
        if (fresh && fresh !== token) {
          token = fresh;
          response = await post(item, token);
        }
      }
    } catch (error) {
      await put({ ...item, state: "waiting", error: "", attempts: item.attempts + 1 });
      return error && error.name === "AbortError" ? "timeout" : "offline";
    }
    // A replay is answered 401 when its session is gone; a redirect to the sign-in page is the same.
    const signedOut = response.status === 401 || (response.redirected && new URL(response.url).pathname === "/login");
    if (response.ok && !signedOut) {
      // Read to the end so the connection is released, not held open by an unread body.
      await response.text().catch(() => "");
      await remove(item.key);
      return "sent";
    }
    const reason = signedOut ? "HTTP 401" : reasonOf(response.status, await response.text().catch(() => ""));
    // Refused for who sent it (signed out, a session or CSRF token gone stale) rather than for what it
    // says: signing in again is the fix, so a signed-in page sends it again by itself (a few times at
    // most). Any other refusal, a role's included, waits for a person to fix or discard it.
    const code = response.headers.get("X-Error-Code") || "";
    const needsSignIn = signedOut || (response.status === 403 && code === "csrf_failed");
    const retries = needsSignIn ? (item.signInRetries || 0) + 1 : 0;
    await put({
      ...item,
      csrf: token,
      state: "failed",
      error: reason,
      needsSignIn: needsSignIn && retries <= MAX_SIGN_IN_RETRIES,
      signInRetries: retries,
      attempts: item.attempts + 1,
    });
    return "refused";
  }

  // Waiting items, oldest first, until the network fails; one replay at a time across tabs and the
  // worker. A page that knows it is signed in also retries the items refused for want of a session.
  async function replay(options) {
    const signedIn = Boolean(options && options.signedIn);
    const run = async () => {
      for (const item of await list()) {
        if (item.state === "failed" && !(signedIn && item.needsSignIn)) {
          continue;
        }
        // Offline: the rest would fail too. A send that timed out waits; the next one goes.
        if ((await send(item)) === "offline") {
          return;
        }
      }
    };
    const locks = scope.navigator && scope.navigator.locks;
    return locks ? locks.request("crossclaim-queue", run) : run();
  }

  async function resend(key, csrf) {
    const item = await get(key);
    return item ? send(item, csrf) : "sent";
  }

  scope.CrossclaimQueue = {
    CHANNEL: CHANNEL,
    SYNC_TAG: SYNC_TAG,
    add: add,
    list: list,
    count: count,
    get: get,
    remove: remove,
    clear: clear,
    replay: replay,
    resend: resend,
  };
})(self);
