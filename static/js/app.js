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
    setupBoard();
    setupSound();
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
  document.addEventListener("htmx:oobAfterSwap", refreshRelativeTimes);

  // "12 min ago", kept current in the user's language without a round trip.
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

  // Connection indicator, and polling while the socket is down.
  function setupBoard() {
    var board = document.querySelector("[data-live-board]");
    if (!board) return;
    var indicator = document.getElementById("conn");
    var pollTimer = null;
    function show(state) {
      indicator.className = "conn conn-" + state;
      indicator.querySelector(".conn-text").textContent = indicator.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
    }
    function poll() {
      var list = document.getElementById("board-list");
      if (list && list.getAttribute("hx-get")) htmx.trigger(list, "board-poll");
      else window.location.reload();
    }
    function startPolling() {
      show("offline");
      if (!pollTimer) pollTimer = setInterval(poll, 30000);
    }
    board.addEventListener("htmx:wsOpen", function () {
      show("live");
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    });
    board.addEventListener("htmx:wsClose", startPolling);
    board.addEventListener("htmx:wsError", startPolling);
    // A socket that never opens (blocked by a proxy) also falls back to polling.
    setTimeout(function () { if (indicator.classList.contains("conn-connecting")) startPolling(); }, 8000);
  }

  // Optional sound when a unit's admission stop starts or ends.
  function setupSound() {
    var toggle = document.getElementById("sound-toggle");
    if (!toggle) return;
    toggle.checked = localStorage.getItem("board-sound") === "on";
    toggle.addEventListener("change", function () {
      localStorage.setItem("board-sound", toggle.checked ? "on" : "off");
    });
    document.addEventListener("htmx:oobBeforeSwap", function (event) {
      var target = event.detail.target, fragment = event.detail.fragment;
      if (!toggle.checked || !target || !fragment) return;
      var incoming = fragment.querySelector ? (fragment.querySelector("[data-stops]") || fragment.firstElementChild) : null;
      if (incoming && incoming.dataset && target.dataset.stops !== incoming.dataset.stops) beep();
    });
  }

  function beep() {
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio available */ }
  }
})();
