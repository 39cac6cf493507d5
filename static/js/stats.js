// Progressive enhancement of the statistics page: bar charts over the tables (the tables
// stay), and live figures: after each aggregation the server pushes a nudge over the
// websocket and the page re-fetches its own view (same period and filters) with htmx.
(function () {
  "use strict";
  var charts = [];

  function draw() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var source = document.getElementById("stats-data");
    if (!source || typeof window.Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var print = window.matchMedia && window.matchMedia("print").matches;
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var d = data[box.getAttribute("data-chart")];
      if (!d || !d.labels.length) return;
      var datasets = [{ label: d.label, data: d.counts, backgroundColor: "#0b57d0" }];
      if (d.room) datasets.push({ label: d.roomLabel, data: d.room, backgroundColor: "#b35900" });
      box.hidden = false;
      charts.push(new window.Chart(box.querySelector("canvas"), {
        type: "bar",
        data: { labels: d.labels, datasets: datasets },
        options: {
          indexAxis: "y",
          animation: print ? false : undefined,
          maintainAspectRatio: false,
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      }));
      box.style.height = Math.max(160, 40 + d.labels.length * 32 * datasets.length) + "px";
    });
  }

  function total() {
    var el = document.querySelector("#stats-body [data-stats-total]");
    return el ? el.getAttribute("data-stats-total") : null;
  }

  function setupLive() {
    var live = document.querySelector("[data-stats-live]");
    var body = document.getElementById("stats-body");
    if (!live || !body || !window.htmx) return;
    var conn = document.getElementById("stats-conn");
    var announce = document.getElementById("stats-announce");
    var timer = null, before = null, opened = false;
    function refreshSoon() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(function () { timer = null; before = total(); htmx.trigger(body, "stats-refresh"); }, 1000);
    }
    function show(state) {
      conn.className = "conn conn-" + state;
      conn.querySelector(".conn-text").textContent = conn.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
    }
    live.addEventListener("htmx:wsOpen", function () {
      show("live");
      // Back after a dropped connection (a deploy, a tunnel): nudges sent meanwhile were missed.
      if (opened) refreshSoon();
      opened = true;
    });
    live.addEventListener("htmx:wsClose", function () { show("offline"); });
    // A sweep after an outage counts many refusals at once: one re-fetch for the burst.
    live.addEventListener("htmx:wsAfterMessage", refreshSoon);
    body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target !== body) return;
      draw();
      var now = document.querySelector("#stats-body [data-stats-total]");
      // Say so only when the figures in view changed (the new refusal may lie outside the period shown).
      if (now && before !== null && now.getAttribute("data-stats-total") !== before) {
        announce.textContent = now.getAttribute("data-announce");
      }
    });
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });

  function start() { draw(); setupLive(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
