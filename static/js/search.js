/* Live result list of the capacity search (docs/search.md).
 *
 * The socket at #search-results[data-ws] is told when a unit of one of the listed
 * locations changes; the list is then fetched again from data-refresh-url, so the
 * order (room, full, stop) and the region overflow are always the server's. On every
 * (re)connect the server sends a fingerprint of those units: a list rendered before
 * a change it missed is refreshed. While the socket is down the list is polled.
 */
(function () {
  "use strict";

  var socket = null;
  var socketUrl = "";
  var retries = 0;
  var retryTimer = null;
  var pollTimer = null;
  var refreshTimer = null;

  function results() { return document.getElementById("search-results"); }

  function show(state) {
    var indicator = document.getElementById("search-conn");
    if (!indicator) return;
    indicator.className = "conn conn-" + state;
    indicator.querySelector(".conn-text").textContent =
      indicator.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
  }

  function refresh() {
    // A burst of changes (a hospital updating three units) costs one fetch.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      var list = results();
      if (list && list.dataset.refreshUrl && window.htmx) {
        htmx.ajax("GET", list.dataset.refreshUrl, { target: list, swap: "outerHTML" });
      }
    }, 300);
  }

  function startPolling() {
    show("offline");
    if (!pollTimer) pollTimer = setInterval(refresh, 30000);
  }

  function stopPolling() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
  }

  function close() {
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    clearTimeout(retryTimer);
  }

  function connect() {
    var list = results();
    var wanted = list ? list.dataset.ws || "" : "";
    if (wanted === socketUrl && socket) return;  // same locations: keep the socket
    close();
    socketUrl = wanted;
    if (!wanted) { stopPolling(); return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + wanted);
    socket.onopen = function () { retries = 0; stopPolling(); show("live"); };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      var current = results();
      if (message.type === "hello" && current && message.fingerprint === current.dataset.fingerprint) return;
      refresh();
    };
    socket.onclose = function (event) {
      socket = null;
      startPolling();
      if (window.socketAccessEnded && window.socketAccessEnded(event.code)) return;  // app.js: reload
      if (event.code === 4401 || event.code === 4403 || event.code === 4400) return;  // refused: polling only
      retries += 1;
      // Full jitter: a server restart must not bring every phone back at the same moment.
      var delay = Math.random() * Math.min(30000, 1000 * Math.pow(2, retries));
      retryTimer = setTimeout(function () { socketUrl = ""; connect(); }, delay);
    };
  }

  // After a search the results are the answer: focus and show the first one (the nearest).
  // Not after a live refresh: that must never move the midwife's focus.
  var focusAfterSearch = false;
  function focusFirstResult() {
    var first = document.querySelector("#search-results .result h3");
    if (!first) {
      var invalid = document.querySelector(".search-form [aria-invalid='true']");
      if (invalid) invalid.focus();
      return;
    }
    first.focus({ preventScroll: true });
    first.closest(".result").scrollIntoView({ block: "start" });
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.matches && elt.matches("form.search-form")) focusAfterSearch = true;
  });

  document.addEventListener("DOMContentLoaded", function () {
    connect();
    if (document.getElementById("search-results")) focusFirstResult();
  });
  // A new search or a refreshed list may list other locations: follow them.
  document.addEventListener("htmx:afterSettle", function () {
    if (focusAfterSearch) { focusAfterSearch = false; focusFirstResult(); }
    connect();
    if (socket && socket.readyState === WebSocket.OPEN) show("live");
    else if (pollTimer) show("offline");
  });
})();
