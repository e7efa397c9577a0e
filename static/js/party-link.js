// The magic-link page (a party's /l/ or the customer's /t/): take the token out of the address bar and
// history before anything else happens. The form still posts to its own action (the token stays in the page,
// never in history or referrers). A customer's address becomes their tracking page, which a bookmark or a
// revisit opens for as long as the link lives.
(function () {
  "use strict";
  var prefix = window.location.pathname.slice(0, 3);
  if (!window.history || !window.history.replaceState) {
    return;
  }
  if (prefix === "/t/") {
    window.history.replaceState(null, "", "/track");
  } else if (prefix === "/l/") {
    window.history.replaceState(null, "", "/l/opened");
  }
})();
