// The magic-link page: take the token out of the address bar and history before anything else happens.
// The form still posts to its own action (the token stays in the page, never in history or referrers).
(function () {
  "use strict";
  if (window.location.pathname.indexOf("/l/") === 0 && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", "/l/opened");
  }
})();
