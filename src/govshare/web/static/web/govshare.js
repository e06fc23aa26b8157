// Small progressive enhancements; every page works without them.
document.addEventListener("click", function (ev) {
  var add = ev.target.closest("[data-add-item]");
  if (add) {
    ev.preventDefault();
    var body = document.querySelector(add.getAttribute("data-add-item"));
    var tpl = document.getElementById("item-row-template");
    var index = body.querySelectorAll("tr").length;
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
