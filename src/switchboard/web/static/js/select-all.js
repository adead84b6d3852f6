// A "select all" box over a list of checkboxes: <input type="checkbox" data-select-all="NAME"
// hidden> ticks or clears every checkbox named NAME in its form. The box is hidden until this
// script shows it; without script, "Add all matching" does the same on the server.
(function () {
  "use strict";
  document.querySelectorAll("input[data-select-all]").forEach(function (box) {
    var name = box.getAttribute("data-select-all");
    var form = box.form || box.closest("form");
    var scope = form || document;
    function boxes() {
      return Array.prototype.slice.call(
        scope.querySelectorAll('input[type="checkbox"][name="' + name + '"]')
      );
    }
    function sync() {
      var all = boxes();
      var ticked = all.filter(function (b) { return b.checked; }).length;
      box.checked = all.length > 0 && ticked === all.length;
      box.indeterminate = ticked > 0 && ticked < all.length;
    }
    box.hidden = false;
    box.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = box.checked; });
      box.indeterminate = false;
    });
    scope.addEventListener("change", function (event) {
      if (event.target !== box && event.target.name === name) {
        sync();
      }
    });
    sync();
  });
})();
