// The staff page (/units/). Showing and hiding the stop fields is CSS (staff.css, :has()); this only
// moves focus to the date-time field when "other time" is chosen, so it can be typed at once.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!(input instanceof HTMLInputElement) || input.name !== "stop_end_choice" || input.value !== "other") return;
    var form = input.closest("form.unit-form");
    var when = form && form.querySelector('input[name="stop_expected_end"]');
    if (when) when.focus();
  });
})();
