// Small progressive enhancements; every page works without them.
document.addEventListener("click", function (ev) {
  var add = ev.target.closest("[data-add-item]");
  if (add) {
    ev.preventDefault();
    var body = document.querySelector(add.getAttribute("data-add-item"));
    var tpl = document.getElementById("item-row-template");
    // Next free index, not the row count: rows may have been removed in between.
    var index = 0;
    body.querySelectorAll("[name^='item-']").forEach(function (el) {
      var n = parseInt(el.name.split("-")[1], 10);
      if (!isNaN(n) && n >= index) { index = n + 1; }
    });
    body.insertAdjacentHTML("beforeend", tpl.innerHTML.replace(/__i__/g, String(index)));
    return;
  }
  var del = ev.target.closest("[data-remove-row]");
  if (del) {
    ev.preventDefault();
    del.closest("tr").remove();
  }
});
document.addEventListener("change", function (ev) {
  if (ev.target.matches("form[data-autosubmit] input[type=checkbox]")) {
    ev.target.form.requestSubmit();
  }
});
