// The magic-link page (a party's /l/ or the customer's /t/): take the token out of the address bar and
// history before anything else happens. The form still posts to its own action (the token stays in the page,
// never in history or referrers).
(function () {
  "use strict";
  var prefix = window.location.pathname.slice(0, 3);
  if ((prefix === "/l/" || prefix === "/t/") && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", prefix + "opened");
  }
})();
