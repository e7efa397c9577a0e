// On a phone the dashboard's filters start folded so the figures come first; wider screens keep them open.
(() => {
  const panel = document.getElementById("filter-panel");
  if (panel && window.matchMedia("(max-width: 640px)").matches) panel.open = false;
})();
