// Courses change forms: check long texts before sending (the server checks the same limit),
// and name select2 search boxes after their field. Loaded by admin/courses/change_form.html.
(function () {
  "use strict";
  var script = document.getElementById("zx-max-chars-script");
  var template = script.getAttribute("data-message");
  var form = script.closest("form") || document.querySelector("#content-main form");
  if (!form) { return; }
  // select2 (autocomplete) search boxes carry no label: name them after their field.
  function nameSearchBoxes() {
    document.querySelectorAll(".select2-container").forEach(function (box) {
      var select = box.previousElementSibling;
      var search = box.querySelector(".select2-search__field");
      if (!select || !search || search.hasAttribute("aria-label")) { return; }
      var label = select.getAttribute("aria-label") ||
        (select.id && document.querySelector("label[for='" + select.id + "']") || {}).textContent;
      if (label) { search.setAttribute("aria-label", label.replace(/[:：]\s*$/, "")); }
    });
  }
  if (window.django && window.django.jQuery) {
    // Ready handlers run in order: this one follows autocomplete.js's select2 set-up.
    window.django.jQuery(nameSearchBoxes);
    window.django.jQuery(document).on("select2:select select2:unselect", nameSearchBoxes);
  }
  window.addEventListener("load", nameSearchBoxes);
  document.addEventListener("formset:added", function () { setTimeout(nameSearchBoxes, 0); });
  form.addEventListener("submit", function (event) {
    var first = null;
    form.querySelectorAll("[data-max-chars]").forEach(function (field) {
      var max = parseInt(field.getAttribute("data-max-chars"), 10);
      var old = field.parentNode.querySelector(".zx-max-chars-error");
      if (old) { old.remove(); }
      if (field.value.length > max) {
        var note = document.createElement("ul");
        note.className = "errorlist zx-max-chars-error";
        var item = document.createElement("li");
        item.textContent = template.replace("{max}", String(max)).replace("{len}", String(field.value.length));
        note.appendChild(item);
        field.parentNode.insertBefore(note, field);
        first = first || field;
      }
    });
    if (first) {
      event.preventDefault();
      first.focus();
    }
  });
})();
