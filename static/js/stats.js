// Progressive enhancement: draw bar charts over the statistics tables (the tables stay).
(function () {
  "use strict";
  function draw() {
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
      new window.Chart(box.querySelector("canvas"), {
        type: "bar",
        data: { labels: d.labels, datasets: datasets },
        options: {
          indexAxis: "y",
          animation: print ? false : undefined,
          maintainAspectRatio: false,
          scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
        },
      });
      box.style.height = Math.max(160, 40 + d.labels.length * 32 * datasets.length) + "px";
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
