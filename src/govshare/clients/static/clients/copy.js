// "复制令牌": copy the one-time token to the clipboard; the field stays selectable without script.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest("[data-copy]");
  if (!btn) { return; }
  ev.preventDefault();
  var field = document.querySelector(btn.getAttribute("data-copy"));
  if (!field) { return; }
  field.focus();
  field.select();
  var done = function () { btn.textContent = btn.getAttribute("data-copied") || "已复制"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
