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

  document.addEventListener("DOMContentLoaded", function () {
    bindConfirms(document);
    var main = document.getElementById("draft-main");
    if (main) poll(main);
  });
})();
