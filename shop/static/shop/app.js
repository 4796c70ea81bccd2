/* XiaoWei shop app: copy to the clipboard, and mark a campaign message sent after the SMS app
   opens. Without JavaScript the text stays selectable and the list shows it sent on reload. */
(function () {
  "use strict";
  function copied(button) { button.textContent = button.dataset.done || button.textContent; }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy], [data-copy-text]");
    if (!button) return;
    var source = button.dataset.copy ? document.querySelector(button.dataset.copy) : null;
    var text = source ? source.value : button.dataset.copyText;
    function fallback() {
      if (!source) return;
      source.focus();
      source.select();
      try { if (document.execCommand("copy")) copied(button); } catch (e) { /* selected */ }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button); }, fallback);
    } else {
      fallback();
    }
  });
  document.addEventListener("xw-sent", function (event) {
    var row = document.getElementById(event.detail && event.detail.row);
    if (!row) return;
    var actions = row.querySelector(".row-actions");
    var done = document.createElement("p");
    done.className = "ok";
    done.setAttribute("role", "status");
    done.textContent = (row.closest("[data-sent]") || document.body).dataset.sent || "✓";
    if (actions) actions.replaceWith(done);
  });
})();
