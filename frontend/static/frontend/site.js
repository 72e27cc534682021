// Behaviour of every page, loaded as a file: the Content-Security-Policy allows no
// inline script or event attribute, and htmx runs without eval (no hx-on).
(function () {
  "use strict";
  // Pickers: a ticked suggestion moves to the chosen list, so the next search keeps it.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-picker-choice]") || !box.checked) {
      return;
    }
    var picker = box.closest(".picker");
    if (picker) {
      picker.querySelector(".chosen").append(box.closest("li"));
    }
  });
})();
