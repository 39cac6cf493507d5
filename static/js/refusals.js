/* The refusal form (templates/refusals/form.html): choosing where she was taken in also answers
 * "where did the client go?", and typing another location selects "another location".
 * Without JavaScript the server draws the same conclusions (refusals/forms.py). */
(function () {
  "use strict";

  function check(selector) {
    var input = document.querySelector(selector);
    if (input && !input.checked) input.checked = true;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "outcome_location" && target.checked) check('input[name="outcome"][value="location"]');
  });

  document.addEventListener("input", function (event) {
    if (event.target.name !== "outcome_location_other" || !event.target.value) return;
    check('input[name="outcome_location"][value="other"]');
    check('input[name="outcome"][value="location"]');
  });
})();
