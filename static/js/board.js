/* The live board and the wall screen (templates/capacity/board.html, screen.html).
   Everything here enhances a page that already works: rows are swapped in by htmx's
   websocket extension, the layout is chosen on the server (cookie), the list polls without a socket. */
(function () {
  "use strict";

  var CUE_MS = 20000; // how long a stop's banner and row highlight stay
  var LAYOUT_COOKIE = "board_layout";
  var audio = null; // one AudioContext per page: browsers allow few, and a kiosk unlocks it once

  document.addEventListener("DOMContentLoaded", function () {
    var board = document.querySelector("[data-live-board]");
    if (!board) return;
    setupConnection(board);
    setupLayoutToggle();
    setupSound(board);
    setupStopCue();
    setupClock();
    showLastChange();
    centreActiveRegion();
  });

  // --- connection indicator, and polling while the socket is down ---------------------------
  function setupConnection(board) {
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

  // --- Cards | Grid -----------------------------------------------------------------------------
  // The server reads the cookie, so a reload (or the polling fallback) keeps the choice without a flash.
  function setupLayoutToggle() {
    var form = document.querySelector("[data-layout-toggle]");
    if (!form) return;
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=layout]");
      if (!button) return;
      event.preventDefault();
      var layout = button.value;
      document.cookie = LAYOUT_COOKIE + "=" + layout + "; path=/; max-age=31536000; samesite=lax";
      var list = document.getElementById("board-list");
      if (list) list.dataset.layout = layout;
      form.querySelectorAll("button[name=layout]").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
    });
    // The polling fallback swaps in a fresh list: it carries the layout the server read from the cookie.
  }

  // --- the active region tab in view ------------------------------------------------------------
  function centreActiveRegion() {
    var tabs = document.querySelector(".regions");
    var active = tabs && tabs.querySelector("a[aria-current]");
    if (!active || tabs.scrollWidth <= tabs.clientWidth) return;
    active.scrollIntoView({ inline: "center", block: "nearest" });
  }

  // --- sound --------------------------------------------------------------------------------------
  // Board: a remembered checkbox. Wall screen: browsers block sound until the page is touched once,
  // so the screen shows a button (and says why) until the audio is allowed to run.
  function context() {
    if (!audio) {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      try { audio = new Ctx(); } catch (e) { return null; }
    }
    return audio;
  }

  function soundOn() {
    var toggle = document.getElementById("sound-toggle");
    if (toggle) return toggle.checked;
    return !!(audio && audio.state === "running");
  }

  function beep() {
    var ctx = context();
    if (!ctx) return;
    try {
      var osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no audio available */ }
  }

  function setupSound(board) {
    var toggle = document.getElementById("sound-toggle");
    if (toggle) {
      toggle.checked = localStorage.getItem("board-sound") === "on";
      toggle.addEventListener("change", function () {
        localStorage.setItem("board-sound", toggle.checked ? "on" : "off");
        var ctx = toggle.checked ? context() : null;
        if (ctx && ctx.state === "suspended") ctx.resume();
      });
    }
    var holder = document.getElementById("screen-sound");
    var button = document.getElementById("sound-enable");
    if (holder && button) {
      var markOn = function () {
        holder.classList.add("sound-on");
        holder.textContent = "";
        var on = document.createElement("span");
        on.textContent = "♪ " + holder.dataset.textOn;
        holder.appendChild(on);
      };
      var ctx = context();
      if (ctx && ctx.state === "running") markOn(); // a kiosk browser that allows autoplay
      else if (!ctx) holder.hidden = true;
      button.addEventListener("click", function () {
        var c = context();
        if (!c) return;
        c.resume().then(function () { beep(); markOn(); });
      });
    }
  }

  // --- a stop starts or ends: a banner with the location in words, the row marked, a beep --------
  function stopKinds(el) {
    return (el && el.dataset && el.dataset.stops ? el.dataset.stops : "").split(" ").filter(Boolean);
  }

  function kindLabels(row, kinds) {
    return kinds.map(function (kind) {
      var label = row.querySelector('li[data-kind="' + kind + '"] .unit-kind');
      return label ? label.textContent.trim() : kind;
    });
  }

  // One line per location (a stop that ends replaces its start), the newest first, at most three.
  function showCue(key, started, name, labels) {
    var cue = document.getElementById("stop-cue");
    if (!cue) return;
    var previous = cue.querySelector('[data-cue-for="' + key + '"]');
    if (previous) previous.remove();
    var line = document.createElement("p");
    line.className = "cue " + (started ? "cue-start" : "cue-end");
    line.dataset.cueFor = key;
    var mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = started ? "✕ " : "✓ ";
    var what = document.createElement("strong");
    what.textContent = started ? cue.dataset.textStart : cue.dataset.textEnd;
    var where = document.createElement("span");
    where.className = "cue-where";
    where.textContent = ": " + name + (labels.length ? " – " + labels.join(", ") : "");
    line.append(mark, what, where);
    cue.prepend(line);
    while (cue.children.length > 3) cue.lastElementChild.remove();
    cue.hidden = false;
    setTimeout(function () {
      line.remove();
      if (!cue.children.length) cue.hidden = true;
    }, CUE_MS);
  }

  function setupStopCue() {
    var marked = {};
    document.addEventListener("htmx:oobBeforeSwap", function (event) {
      var target = event.detail.target, fragment = event.detail.fragment;
      if (!target || !fragment || !target.id || target.id.indexOf("location-") !== 0) return;
      var incoming = fragment.querySelector ? (fragment.querySelector("[data-stops]") || fragment.firstElementChild) : null;
      if (!incoming || !incoming.dataset) return;
      var before = stopKinds(target), after = stopKinds(incoming);
      var started = after.filter(function (k) { return before.indexOf(k) < 0; });
      var ended = before.filter(function (k) { return after.indexOf(k) < 0; });
      if (!started.length && !ended.length) return;
      var heading = incoming.querySelector("h3");
      var name = heading ? heading.textContent.trim() : "";
      if (ended.length) showCue(target.id + "-end", false, name, kindLabels(target, ended));
      if (started.length) showCue(target.id, true, name, kindLabels(incoming, started));
      else if (ended.length && !after.length) {
        // The location's last stop ended: its "started" line is over.
        var start = document.querySelector('#stop-cue [data-cue-for="' + target.id + '"]');
        if (start) start.remove();
      }
      marked[target.id] = Date.now() + CUE_MS;
      if (soundOn()) beep();
    });
    // The swapped-in row is a new element: mark it once htmx has settled it (settling restores the
    // new element's own class attribute), and keep it marked until the cue is over.
    function markRows() {
      var now = Date.now();
      Object.keys(marked).forEach(function (id) {
        var row = document.getElementById(id);
        if (marked[id] <= now) {
          delete marked[id];
          if (row) row.classList.remove("loc-cue");
          return;
        }
        if (row && !row.classList.contains("loc-cue")) {
          row.classList.add("loc-cue");
          setTimeout(markRows, marked[id] - now + 10); // then unmarked, above
        }
      });
      showLastChange();
    }
    document.addEventListener("htmx:wsAfterMessage", markRows);
    document.addEventListener("htmx:afterSettle", markRows); // the polling fallback's fresh list
  }

  // --- wall screen: clock and "last change" -----------------------------------------------------
  function timeFormat(el) {
    var lang = document.documentElement.lang || "nl";
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    var zone = el && el.dataset.tz;
    if (zone) options.timeZone = zone;
    try { return new Intl.DateTimeFormat(lang, options); } catch (e) { return null; }
  }

  function setupClock() {
    var clock = document.getElementById("clock");
    if (!clock) return;
    var format = timeFormat(clock);
    if (!format) return;
    function tick() {
      var now = new Date();
      clock.textContent = format.format(now);
      clock.setAttribute("datetime", now.toISOString());
    }
    tick();
    setInterval(tick, 1000);
  }

  // The newest change of any row shown: pushed rows carry each unit's time of change, so a
  // reconnect's full snapshot does not count as a change.
  function showLastChange() {
    var el = document.getElementById("last-change");
    if (!el) return;
    var newest = 0;
    document.querySelectorAll("#board-list li[data-updated]").forEach(function (li) {
      var t = Date.parse(li.dataset.updated);
      if (t > newest) newest = t;
    });
    if (!newest) return;
    var format = timeFormat(document.getElementById("clock"));
    el.setAttribute("datetime", new Date(newest).toISOString());
    if (format) el.textContent = format.format(new Date(newest));
  }

  // --- "Refused here" returns to this very board ------------------------------------------------
  // The pushed row links back to its region's board (it is rendered without a request); the
  // national board or another filter is the current page, so the link is corrected on use.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.refused-here");
    if (!link) return;
    var url = new URL(link.href, window.location.href);
    url.searchParams.set("next", window.location.pathname + window.location.search);
    link.href = url.toString();
  });
})();
