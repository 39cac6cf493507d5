/* The planner's page live (docs/kraamzorg.md, "Live").
 *
 * The socket at #plan-conn[data-ws] says when the organisation's grid changed (another planner,
 * the API); the page then fetches its grid (the same partial, data-refresh-url) and puts in each
 * week whose version moved. A week whose card is open keeps its form as typed: only its summary
 * line and its version for "confirm all" are brought up to date, and a notice offers to reload the
 * week. On every (re)connect the server sends each week's version ("hello"); a page that missed a
 * change fetches. While the socket is down the grid is fetched every 30 s.
 */
(function () {
  "use strict";

  var socket = null;
  var retries = 0;
  var retryTimer = null;
  var pollTimer = null;
  var refreshTimer = null;
  var fetching = false;
  var again = false;

  function conn() { return document.getElementById("plan-conn"); }

  function show(state) {
    var indicator = conn();
    if (!indicator) return;
    indicator.className = "conn conn-" + state;
    indicator.querySelector(".conn-text").textContent =
      indicator.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
  }

  function cards(root) { return root.querySelectorAll(".week[data-week]"); }

  // The same as the server's plan_fingerprint: every week shown with its version.
  function fingerprint() {
    var grid = document.getElementById("intake-grid");
    if (!grid) return "";
    return Array.prototype.map.call(cards(grid), function (card) {
      return card.dataset.week + ":" + card.dataset.version;
    }).join(",");
  }

  function fetchGrid() {
    var indicator = conn();
    return fetch(indicator.dataset.refreshUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var holder = document.createElement("template");
        holder.innerHTML = html;
        return holder.content.querySelector("#intake-grid");  // null: not the grid (logged out)
      });
  }

  function editing(card) {
    var details = card.querySelector("details");
    return Boolean(details && details.open);
  }

  function saving(card) {
    // Its own save is on the way: that answer replaces the card.
    return card.classList.contains("htmx-request") || card.querySelector(".htmx-request") !== null;
  }

  function put(card, incoming) {
    var summaryFocused = document.activeElement && card.querySelector("summary") === document.activeElement;
    card.replaceWith(incoming);
    if (window.htmx) htmx.process(incoming);
    if (summaryFocused) incoming.querySelector("summary").focus({ preventScroll: true });
  }

  function confirmVersion(card) { return card.querySelector('input[form="confirm-weeks"]'); }

  function markChanged(card, incoming) {
    // The figures shown and the version "confirm all" sends become the current ones; the form
    // keeps what is being typed and its old version, so saving it answers with the conflict.
    card.querySelector("summary").innerHTML = incoming.querySelector("summary").innerHTML;
    var mine = confirmVersion(card), theirs = confirmVersion(incoming);
    if (mine && theirs) mine.value = theirs.value;
    else if (theirs) card.insertBefore(theirs, card.firstChild);
    else if (mine) mine.remove();
    card.dataset.version = incoming.dataset.version;
    card.classList.toggle("week-stale", incoming.classList.contains("week-stale"));
    if (!card.querySelector("[data-week-changed]")) {
      var notice = document.getElementById("week-changed-notice").content.firstElementChild.cloneNode(true);
      card.querySelector("summary").after(notice);
    }
  }

  function merge(fresh) {
    var grid = document.getElementById("intake-grid");
    if (!grid || !fresh) return;
    // This page's own "confirm all" is on the way: its answer replaces the grid; look again after it.
    if (grid.querySelector("#confirm-weeks.htmx-request")) { refresh(); return; }
    var changed = 0;
    Array.prototype.forEach.call(cards(fresh), function (incoming) {
      var card = document.getElementById(incoming.id);
      // A week the page does not show (the grid moved on past a Monday) waits for a reload.
      if (!card || card.dataset.version === incoming.dataset.version || saving(card)) return;
      changed += 1;
      if (editing(card)) markChanged(card, incoming);
      else put(card, incoming);
    });
    if (!changed) return;
    var flags = grid.querySelector("#intake-flags"), freshFlags = fresh.querySelector("#intake-flags");
    if (flags && freshFlags) flags.replaceWith(freshFlags);
    else if (flags) flags.remove();
    else if (freshFlags) grid.querySelector("#confirm-weeks").after(freshFlags);
    if (window.refreshRelativeTimes) window.refreshRelativeTimes();
    var announce = document.getElementById("plan-announce");
    if (announce) announce.textContent = document.getElementById("weeks-updated-text").content.textContent;
  }

  function refreshNow() {
    if (fetching) { again = true; return; }
    fetching = true;
    fetchGrid().then(merge).catch(function () { /* offline: the next notice or poll tries again */ })
      .then(function () {
        fetching = false;
        if (again) { again = false; refreshNow(); }
      });
  }

  function refresh() {
    // A "confirm all" elsewhere, or a planning system writing several weeks, costs one fetch.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshNow, 300);
  }

  function startPolling() {
    show("offline");
    if (!pollTimer) pollTimer = setInterval(refresh, 30000);
  }

  function stopPolling() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function connect() {
    var indicator = conn();
    if (!indicator || !window.WebSocket) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + indicator.dataset.ws);
    socket.onopen = function () { retries = 0; stopPolling(); show("live"); };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      if (message.type === "hello" && message.fingerprint === fingerprint()) return;
      refresh();
    };
    socket.onclose = function (event) {
      socket = null;
      startPolling();
      if (window.socketAccessEnded && window.socketAccessEnded(event.code)) return;  // app.js: reload
      if (event.code === 4401 || event.code === 4403) return;  // refused: polling only
      retries += 1;
      // Full jitter: a server restart must not bring every phone back at the same moment.
      var delay = Math.random() * Math.min(30000, 1000 * Math.pow(2, retries));
      retryTimer = setTimeout(connect, delay);
    };
  }

  // "Reload this week": the week as stored now, the typed form given up.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-reload-week]");
    if (!button) return;
    var card = button.closest(".week[data-week]");
    fetchGrid().then(function (fresh) {
      var incoming = fresh && fresh.querySelector("#" + card.id);
      if (!incoming || !card.isConnected) return;
      put(card, incoming);
      if (window.refreshRelativeTimes) window.refreshRelativeTimes();
      incoming.querySelector("summary").focus({ preventScroll: true });
    });
  });

  document.addEventListener("DOMContentLoaded", connect);
})();
