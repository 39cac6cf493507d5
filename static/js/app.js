/* Small progressive enhancements. Every form works without this file. */
(function () {
  "use strict";

  // Let htmx swap our 400 (validation) and 409 (conflict) answers into the page.
  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      htmx.config.responseHandling = [
        { code: "204", swap: false },
        { code: "[23]..", swap: true },
        { code: "40[09]", swap: true, error: false },
        { code: "[45]..", swap: false, error: true },
      ];
      htmx.config.wsReconnectDelay = "full-jitter";
    }
    refreshRelativeTimes();
    setInterval(refreshRelativeTimes, 30000);
  });

  // A socket closed with 4401 (logged out, session ended) or 4403 (access or wall-screen link
  // withdrawn) is never retried (docs/security.md, "Revocation"). Reload once, so the server says why
  // in words: the login page, the withdrawn-link page, or what the new role allows. At most once a
  // minute per page, so a socket refused on connect cannot make a page reload forever.
  window.socketAccessEnded = function (code) {
    if (code !== 4401 && code !== 4403) return false;
    var key = "socket-access-ended:" + window.location.pathname;
    try {
      var last = Number(window.sessionStorage.getItem(key) || 0);
      if (Date.now() - last < 60000) return false;
      window.sessionStorage.setItem(key, String(Date.now()));
    } catch (e) { return false; }
    window.location.reload();
    return true;
  };
  // Board, wall screen, statistics and alert banners (htmx's websocket extension).
  document.addEventListener("htmx:wsClose", function (event) {
    var close = event.detail && event.detail.event;
    if (close) window.socketAccessEnded(close.code);
  });

  // Steppers: - and + beside a number field.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.step");
    if (!button) return;
    var input = document.getElementById(button.dataset.for);
    if (!input) return;
    var value = parseInt(input.value || "0", 10) + parseInt(button.dataset.step, 10);
    input.value = String(Math.max(0, Math.min(999, value)));
    input.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // After a conflict, move focus to the message so it is read out.
  document.addEventListener("htmx:afterSwap", function (event) {
    var focus = event.detail.target && event.detail.target.querySelector("[data-autofocus], [aria-invalid='true']");
    if (focus) focus.focus();
    refreshRelativeTimes();
  });
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    // A message beside the swapped part (e.g. #desk-notice) that asks for focus gets it.
    var focus = event.detail.target && event.detail.target.querySelector("[data-autofocus]");
    if (focus) focus.focus();
    refreshRelativeTimes();
  });

  // "12 min ago", kept current in the user's language without a round trip.
  // Also for parts put in without htmx's swap (static/js/plan.js).
  window.refreshRelativeTimes = function () { refreshRelativeTimes(); };
  function refreshRelativeTimes() {
    var lang = document.documentElement.lang || "nl";
    var format = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
    if (!format) return;
    document.querySelectorAll("time[data-relative]").forEach(function (el) {
      // Past times only: a clock slightly ahead of the server's must not say "in 1 minute".
      var seconds = Math.min(0, (Date.parse(el.getAttribute("datetime")) - Date.now()) / 1000);
      var minutes = Math.round(seconds / 60);
      if (minutes === 0) el.textContent = format.format(0, "second");
      else if (Math.abs(minutes) < 60) el.textContent = format.format(minutes, "minute");
      else if (Math.abs(minutes) < 48 * 60) el.textContent = format.format(Math.round(minutes / 60), "hour");
      else el.textContent = format.format(Math.round(minutes / 1440), "day");
    });
  }
})();
