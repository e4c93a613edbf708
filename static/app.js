// Imprimatur page behaviour. Served by the app itself (no CDN); CSP forbids inline script.
(function () {
  "use strict";

  // While a scan is pending the server marks #draft-main with data-poll-url;
  // re-fetch that fragment until the flags are there, then stop.
  function poll(el) {
    var url = el.getAttribute("data-poll-url");
    if (!url) return;
    var delay = 1000;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var box = document.createElement("div");
          box.innerHTML = html;
          var fresh = box.querySelector("#draft-main");
          if (!fresh) return schedule();
          el.replaceWith(fresh);
          el = fresh;
          bindConfirms(fresh);
          if (fresh.getAttribute("data-poll-url")) schedule();
        })
        .catch(schedule);
    }
    function schedule() {
      delay = Math.min(delay * 1.3, 5000);
      setTimeout(tick, delay);
    }
    setTimeout(tick, delay);
  }

  function bindConfirms(root) {
    root.querySelectorAll("[data-confirm]").forEach(function (btn) {
      btn.addEventListener("click", function (ev) {
        if (!window.confirm(btn.getAttribute("data-confirm"))) ev.preventDefault();
      });
    });
  }

  // A form that is on its way is not sent again: a double click on 提交审核 or 通过 made two
  // drafts, or an error page for the second press. Back (bfcache) hands the form back.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
    if (form.hasAttribute("data-sending")) { ev.preventDefault(); return; }
    form.setAttribute("data-sending", "");
  });
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    document.querySelectorAll("form[data-sending]").forEach(function (f) { f.removeAttribute("data-sending"); });
  });

  document.addEventListener("DOMContentLoaded", function () {
    bindConfirms(document);
    var main = document.getElementById("draft-main");
    if (main) poll(main);
  });
})();
