/* Kommune filter for the front page and the kommune index: no dependencies, works from file://. */
(function () {
  "use strict";
  function norm(s) {
    return (s || "").toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "").trim();
  }
  var input = document.querySelector("[data-boso-filter]");
  var list = document.querySelector("[data-boso-list]");
  if (!input || !list) { return; }
  var count = document.querySelector("[data-boso-count]");
  var empty = list.querySelector("[data-boso-empty]");
  var groups = Array.prototype.slice.call(list.querySelectorAll("[data-boso-group]"));
  var items = Array.prototype.slice.call(list.querySelectorAll("[data-search]"));
  items.forEach(function (li) { li.bosoKey = norm(li.getAttribute("data-search")); });
  function apply() {
    var terms = norm(input.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    items.forEach(function (li) {
      var ok = terms.every(function (t) { return li.bosoKey.indexOf(t) !== -1; });
      li.hidden = !ok;
      if (ok) { shown += 1; }
    });
    groups.forEach(function (g) {
      g.hidden = !g.querySelector("[data-search]:not([hidden])");
    });
    if (count) {
      var total = count.getAttribute("data-total");
      count.textContent = terms.length ? shown + " av " + total + " kommuner" : total + " kommuner";
    }
    if (empty) { empty.hidden = shown !== 0; }
  }
  input.addEventListener("input", apply);
  if (input.value) { apply(); }
})();
