// Evidence forms (the intake report and "add evidence" on a case): previews of the chosen photos, one
// progress bar per file and the share sent on the Send button while htmx posts the form, the checklist of
// what is still missing, and the client key that makes sending the same report twice file one case.
// htmx sends (hx-post on the form); this script only adds what htmx cannot know, through its events: the
// photos kept here (htmx:configRequest), the upload's progress (htmx:xhr:progress), and the phone's queue
// (static/js/queue.js) for an intake report that got no answer (htmx:sendError, htmx:timeout). Without
// this script the forms still post normally; with it, photos taken one at a time accumulate.
(function () {
  "use strict";

  // The case page may include this file more than once (its evidence panel is re-rendered).
  if (window.crossclaimEvidenceForms) {
    return;
  }
  window.crossclaimEvidenceForms = true;

  const states = new WeakMap();

  function stateOf(form) {
    let state = states.get(form);
    if (!state) {
      state = { files: [], sending: false };
      states.set(form, state);
    }
    return state;
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // One key per report: kept while the page lives, so a retry after a lost answer is the same report.
  function ensureKey(form) {
    const field = form.querySelector("[data-client-key]");
    if (field && !field.value) {
      field.value = newKey();
    }
  }

  function texts(form) {
    const picker = form.querySelector("[data-picker]");
    return picker ? picker.dataset : {};
  }

  // The checklist sits inside the intake form, and beside the add form on a case page.
  function scopeOf(form) {
    return form.closest(".evidence-panel") || form;
  }

  function checklistItems(form) {
    return Array.from(scopeOf(form).querySelectorAll("[data-checklist-item]"));
  }

  function fillCovers(form, select) {
    const keep = select.value || select.dataset.wanted || "";
    while (select.options.length > 1) {
      select.remove(1);
    }
    for (const item of checklistItems(form)) {
      const label = item.querySelector(".item-label");
      select.add(new Option(label ? label.textContent.trim() : item.dataset.checklistItem, item.dataset.checklistItem));
    }
    select.value = Array.from(select.options).some((option) => option.value === keep) ? keep : "";
  }

  // A new file shows, by default, the first thing the checklist still misses that such a file can show
  // (a photo: damage, defect, seal; a PDF: a paper); a photo with nothing missing adds to the first photo
  // item. One tap on "Shows" changes it.
  function defaultCovers(form, entry) {
    if (entry.select.value) {
      return;
    }
    const isPhoto =
      /^(image|video)\//.test(entry.file.type) || /\.(heic|heif|jpe?g|png|webp|mov|mp4)$/i.test(entry.file.name);
    const chosen = new Set(stateOf(form).files.map((other) => other.select.value).filter(Boolean));
    const fitting = checklistItems(form).filter((item) => (item.dataset.photo === "1") === isPhoto);
    const missing = fitting.find(
      (item) => !item.classList.contains("covered") && !chosen.has(item.dataset.checklistItem)
    );
    const pick = missing || (isPhoto ? fitting[0] : null);
    if (pick) {
      entry.select.value = pick.dataset.checklistItem;
    }
  }

  function updateChecklist(form) {
    const list = scopeOf(form).querySelector("[data-checklist]");
    if (!list) {
      return;
    }
    const chosen = new Set(stateOf(form).files.map((entry) => entry.select.value).filter(Boolean));
    for (const item of checklistItems(form)) {
      if (item.dataset.serverCovered === undefined) {
        item.dataset.serverCovered = item.classList.contains("covered") ? "1" : "";
      }
      const covered = item.dataset.serverCovered === "1" || chosen.has(item.dataset.checklistItem);
      item.classList.toggle("covered", covered);
      item.classList.toggle("missing", !covered);
      const state = item.querySelector(".item-state");
      if (state) {
        state.textContent = covered ? list.dataset.textCovered : list.dataset.textMissing;
      }
    }
  }

  function humanSize(bytes) {
    if (bytes >= 1024 * 1024) {
      return (bytes / (1024 * 1024)).toFixed(1) + " MB";
    }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function mediaPreview(file, holder) {
    const kind = file.type.split("/")[0];
    if (kind === "image" || kind === "video") {
      const url = URL.createObjectURL(file);
      const element = document.createElement(kind === "image" ? "img" : "video");
      element.src = url;
      if (kind === "video") {
        element.muted = true;
        element.playsInline = true;
        element.preload = "metadata";
      } else {
        element.alt = "";
      }
      // HEIC and some videos cannot be previewed by every browser; the file is still sent.
      element.addEventListener("error", () => {
        element.remove();
        holder.textContent = (file.name.split(".").pop() || "file").toUpperCase();
        holder.classList.add("file-kind");
      });
      holder.append(element);
      return url;
    }
    holder.textContent = (file.name.split(".").pop() || "file").toUpperCase();
    holder.classList.add("file-kind");
    return null;
  }

  function addFiles(form, files) {
    const picker = form.querySelector("[data-picker]");
    const list = picker.querySelector("[data-previews]");
    const template = picker.querySelector("template[data-preview-template]");
    const state = stateOf(form);
    for (const file of files) {
      const node = template.content.firstElementChild.cloneNode(true);
      const entry = {
        file: file,
        node: node,
        url: mediaPreview(file, node.querySelector("[data-media]")),
        select: node.querySelector("[data-covers]"),
        progress: node.querySelector("[data-progress]"),
        label: node.querySelector("[data-state]"),
      };
      node.querySelector("[data-name]").textContent = file.name + " · " + humanSize(file.size);
      fillCovers(form, entry.select);
      defaultCovers(form, entry);
      entry.select.addEventListener("change", () => updateChecklist(form));
      node.querySelector("[data-remove]").addEventListener("click", () => removeFile(form, entry));
      state.files.push(entry);
      list.append(node);
    }
    updateChecklist(form);
    status(form, "");
  }

  function removeFile(form, entry) {
    const state = stateOf(form);
    if (state.sending) {
      return;
    }
    state.files = state.files.filter((other) => other !== entry);
    if (entry.url) {
      URL.revokeObjectURL(entry.url);
    }
    entry.node.remove();
    updateChecklist(form);
  }

  function status(form, message) {
    const line = form.querySelector("[data-status]");
    if (line) {
      line.textContent = message || "";
    }
  }

  function setSending(form, sending) {
    stateOf(form).sending = sending;
    form.setAttribute("aria-busy", sending ? "true" : "false");
    for (const button of form.querySelectorAll("[data-submit], [data-remove]")) {
      button.disabled = sending;
    }
    const submit = form.querySelector("[data-submit]");
    if (submit && !sending && submit.dataset.label) {
      submit.textContent = submit.dataset.label;
    }
  }

  // The send button says how far the whole report has gone ("Sending… 42%"), not only the photo bars.
  function showShare(form, share) {
    const submit = form.querySelector("[data-submit]");
    if (!submit) {
      return;
    }
    submit.dataset.label = submit.dataset.label || submit.textContent;
    submit.textContent = (texts(form).textSending || "") + " " + Math.round(share * 100) + "%";
  }

  // Files follow the text fields in the body, in order: each one's share of the bytes sent is its bar.
  function showProgress(form, loaded, total) {
    const files = stateOf(form).files;
    const sum = files.reduce((acc, entry) => acc + entry.file.size, 0);
    let start = Math.max(0, total - sum);
    for (const entry of files) {
      const size = Math.max(1, entry.file.size);
      const share = Math.min(1, Math.max(0, (loaded - start) / size));
      entry.progress.value = Math.round(share * 100);
      start += entry.file.size;
    }
  }

  function markInvalid(form, summary) {
    for (const field of form.querySelectorAll("[aria-invalid='true']")) {
      field.removeAttribute("aria-invalid");
    }
    for (const item of summary.querySelectorAll("[data-field]")) {
      for (const field of form.querySelectorAll("[name='" + CSS.escape(item.dataset.field) + "']")) {
        field.setAttribute("aria-invalid", "true");
      }
    }
  }

  function resetProgress(form, message) {
    for (const entry of stateOf(form).files) {
      entry.progress.value = 0;
      entry.label.textContent = message || "";
    }
  }

  // No network: the intake report goes to the phone's queue (static/js/queue.js) with its key, and
  // the form starts a new report; the queue sends it when the network returns.
  async function keepOffline(form, body) {
    const queue = window.CrossclaimQueue;
    const badge = document.getElementById("queue-badge");
    if (!queue || form.id !== "intake-form") {
      return;
    }
    const token = form.querySelector("input[name='_csrf_token']");
    try {
      await queue.add(form.getAttribute("action"), body, token ? token.value : "");
    } catch (error) {
      return;
    }
    const fixed = form.dataset.fixing;
    if (fixed && fixed !== body.get("client_key")) {
      await queue.remove(fixed).catch(() => {});
    }
    endFixing(form);
    if (navigator.storage && navigator.storage.persist) {
      navigator.storage.persist().catch(() => {});
    }
    const state = stateOf(form);
    for (const entry of state.files) {
      if (entry.url) {
        URL.revokeObjectURL(entry.url);
      }
      entry.node.remove();
    }
    state.files = [];
    form.reset();
    const key = form.querySelector("[data-client-key]");
    if (key) {
      key.value = newKey();
    }
    updateChecklist(form);
    status(form, badge ? badge.dataset.textSaved : "");
    if (badge) {
      const count = await queue.count();
      badge.querySelector("[data-queue-count]").textContent = String(count);
      badge.hidden = false;
    }
  }

  // --- sending, through htmx (hx-post on the form, and on "Add my photos to AS-…") ----------------------

  // The evidence form a request sends: the form's own post, or the "add my photos" button's inside it
  // (not the order look-up or the problem type's questions, which htmx fetches from inside the form).
  function formOf(element) {
    if (!(element instanceof Element) || !(element.matches("form[data-evidence-form]") || attachOf(element))) {
      return null;
    }
    return element.closest("form[data-evidence-form]");
  }

  // One htmx event of an evidence form's own send: the handler gets the form and the event.
  function onSend(name, handler) {
    document.addEventListener(name, (event) => {
      const form = formOf(event.target);
      if (form) {
        handler(form, event);
      }
    });
  }

  // "Add my photos to AS-…" on the alike-case warning: the photos go to that case instead of a new one.
  function attachOf(element) {
    return element instanceof Element && element.matches("[data-attach-to]") ? element.dataset.attachTo : "";
  }

  // The photos kept by this script go in the body in place of the (emptied) file inputs, each with what
  // it shows; a report too large for one request is not sent at all. The body is kept for the queue.
  onSend("htmx:configRequest", (form, event) => {
    const state = stateOf(form);
    const say = texts(form);
    const total = state.files.reduce((acc, entry) => acc + entry.file.size, 0);
    if (say.limitBytes && total > Number(say.limitBytes)) {
      event.preventDefault();
      status(form, say.textTooBig);
      return;
    }
    ensureKey(form);
    // htmx 2 hands the body over as a FormData behind a proxy: its methods act on the body it sends.
    const body = event.detail.parameters;
    const key = form.querySelector("[data-client-key]");
    if (key) {
      body.set("client_key", key.value);
    }
    body.delete("evidence");
    body.delete("evidence_covers");
    for (const entry of state.files) {
      body.append("evidence", entry.file, entry.file.name);
      body.append("evidence_covers", entry.select.value);
    }
    state.body = new FormData();
    for (const [name, value] of body.entries()) {
      state.body.append(name, value);
    }
  });

  onSend("htmx:beforeRequest", (form) => {
    stateOf(form).uploaded = false;
    setSending(form, true);
    resetProgress(form, "");
    status(form, texts(form).textSending);
  });

  // htmx reports the upload's progress and then the answer's under one name; the upload ends first
  // (its loadend comes before the answer is read), so progress after that is not the photos'.
  onSend("htmx:xhr:progress", (form, event) => {
    const state = stateOf(form);
    if (!state.sending || state.uploaded || !event.detail.lengthComputable) {
      return;
    }
    showProgress(form, event.detail.loaded, event.detail.total);
    showShare(form, event.detail.loaded / Math.max(1, event.detail.total));
  });

  onSend("htmx:xhr:loadend", (form) => {
    const state = stateOf(form);
    if (!state.sending || state.uploaded) {
      return;
    }
    state.uploaded = true;
    status(form, texts(form).textChecking);
  });

  // The answer, before htmx acts on it (the form is still in the page: a swap may replace it).
  onSend("htmx:beforeOnLoad", (form, event) => {
    const say = texts(form);
    const state = stateOf(form);
    const xhr = event.detail.xhr;
    const redirect = xhr.getResponseHeader("HX-Redirect") || "";
    setSending(form, false);
    if (redirect.startsWith("/login")) {
      // Signed out meanwhile: keep everything here instead of following the redirect and losing it.
      event.preventDefault();
      resetProgress(form, say.textFailed);
      status(form, say.textFailed);
      const messages = document.getElementById("messages");
      if (messages) {
        const link = document.createElement("a");
        link.href = redirect;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = say.textSignin;
        messages.replaceChildren(link);
      }
      return;
    }
    if (xhr.status < 200 || xhr.status >= 300) {
      resetProgress(form, say.textFailed);
      status(form, say.textFailed);
      return;
    }
    for (const entry of state.files) {
      entry.progress.value = 100;
      entry.label.textContent = say.textDone || "";
    }
    const attachTo = attachOf(event.target);
    if (attachTo || form.dataset.fixing) {
      // The phone forgets its stored copy before the page goes; the photos that joined the case
      // already reported open that case, saying so.
      event.preventDefault();
      const next = attachTo ? attachTo.replace(/\/evidence$/, "?reported=added") : redirect;
      forgetFixed(form).then(() => (next ? window.location.assign(next) : undefined));
      return;
    }
    // htmx follows HX-Redirect, or swaps the answer in (the case page's evidence panel, form and all).
    for (const entry of state.files) {
      if (entry.url) {
        URL.revokeObjectURL(entry.url);
      }
    }
    state.files = [];
  });

  // A refusal is swapped where the server says (HX-Retarget: the form's summary, or #messages); an
  // answer that is not ours to show (a proxy's error page, a crash) is not swapped into the form.
  onSend("htmx:beforeSwap", (form, event) => {
    const xhr = event.detail.xhr;
    if (xhr.status < 400) {
      return;
    }
    const html = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/html");
    const shown = xhr.status < 500 && html && Boolean(xhr.getResponseHeader("HX-Retarget"));
    stateOf(form).refusal = shown ? event.detail.target : null;
    if (!shown) {
      event.detail.shouldSwap = false;
      const messages = document.getElementById("messages");
      if (messages) {
        messages.textContent = texts(form).textFailed;
        messages.scrollIntoView({ block: "start", behavior: "smooth" });
      }
    }
  });

  // After a refusal is in the page: its fields marked, a new key when the server handed one out (this
  // report was already filed and has changed since), and the message brought into view.
  onSend("htmx:afterRequest", (form) => {
    const state = stateOf(form);
    const where = state.refusal;
    state.refusal = null;
    if (!(where instanceof Element) || !where.isConnected) {
      return;
    }
    markInvalid(form, where);
    const fresh = where.querySelector("[data-new-client-key]");
    const key = form.querySelector("[data-client-key]");
    if (fresh && key) {
      key.value = fresh.dataset.newClientKey;
    }
    where.scrollIntoView({ block: "start", behavior: "smooth" });
  });

  // The request never got an answer (no network, the answer lost on the way, or no answer within the
  // form's hx-request timeout): the intake report goes to the phone's queue, under its key.
  for (const failure of ["htmx:sendError", "htmx:timeout", "htmx:sendAbort"]) {
    onSend(failure, (form, event) => {
      const state = stateOf(form);
      setSending(form, false);
      resetProgress(form, "");
      status(form, texts(form).textNetwork);
      if (!attachOf(event.target) && state.body) {
        keepOffline(form, state.body);
      }
    });
  }

  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.matches("[data-evidence-input]")) {
      return;
    }
    const form = input.form;
    if (!form || !form.matches("[data-evidence-form]") || stateOf(form).sending) {
      return;
    }
    addFiles(form, Array.from(input.files || []));
    // Emptied so the next photo adds to the list instead of replacing it, and is not sent twice.
    input.value = "";
  });

  // The problem type swaps the checklist: the "shows" choices of files already picked follow it.
  document.addEventListener("htmx:afterSettle", () => {
    for (const form of document.querySelectorAll("form[data-evidence-form]")) {
      for (const entry of stateOf(form).files) {
        fillCovers(form, entry.select);
        defaultCovers(form, entry);
      }
      updateChecklist(form);
    }
  });

  // "Fix and send" from the not-sent page: /intake#fix=KEY opens the stored report on the form, its
  // fields, answers and photos restored, under its own key so the server still files it only once.
  // Fields that arrive later (the order's lines, the questions of a problem type) are filled as they come.
  const pending = new Map();

  function setField(form, name, values) {
    const fields = Array.from(form.querySelectorAll("[name='" + CSS.escape(name) + "']"));
    const usable = fields.filter((field) => field.type !== "file");
    if (usable.length === 0) {
      return false;
    }
    for (const field of usable) {
      const choice = field.type === "radio" || field.type === "checkbox";
      if (choice) {
        field.checked = values.includes(field.value);
      } else {
        field.value = values[0];
      }
      // As if typed or tapped: the order lookup and the problem type's questions load as they would.
      if (!choice || field.checked) {
        field.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    return true;
  }

  function fillPending(form) {
    for (const [name, values] of pending) {
      if (setField(form, name, values)) {
        pending.delete(name);
      }
    }
  }

  function endFixing(form) {
    delete form.dataset.fixing;
    pending.clear();
    const banner = form.querySelector("[data-fixing-banner]");
    if (banner) {
      banner.hidden = true;
    }
    if (window.location.hash.startsWith("#fix=")) {
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function forgetFixed(form) {
    const key = form.dataset.fixing;
    endFixing(form);
    return key && window.CrossclaimQueue ? window.CrossclaimQueue.remove(key).catch(() => {}) : Promise.resolve();
  }

  async function openStored(form, key) {
    const item = window.CrossclaimQueue ? await window.CrossclaimQueue.get(key).catch(() => null) : null;
    if (!item) {
      return;
    }
    form.dataset.fixing = item.key;
    const banner = form.querySelector("[data-fixing-banner]");
    if (banner) {
      banner.querySelector("[data-fixing-reason]").textContent = item.error || "";
      banner.hidden = false;
    }
    const covers = [];
    for (const [name, value] of item.fields) {
      if (name === "_csrf_token") {
        continue;
      }
      if (name === "evidence_covers") {
        covers.push(value);
        continue;
      }
      pending.set(name, [...(pending.get(name) || []), value]);
    }
    fillPending(form);
    const files = item.files.map((file) => new File([file.blob], file.name, { type: file.type || file.blob.type }));
    addFiles(form, files);
    stateOf(form).files.forEach((entry, index) => {
      entry.select.dataset.wanted = covers[index] || "";
      fillCovers(form, entry.select);
    });
    updateChecklist(form);
  }

  document.addEventListener("htmx:afterSettle", () => {
    const form = document.getElementById("intake-form");
    if (form && form.dataset.fixing && pending.size > 0) {
      fillPending(form);
    }
  });

  function start() {
    for (const form of document.querySelectorAll("form[data-evidence-form]")) {
      ensureKey(form);
    }
    const fix = window.location.hash.match(/^#fix=(.+)$/);
    const form = document.getElementById("intake-form");
    if (fix && form) {
      openStored(form, decodeURIComponent(fix[1]));
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
