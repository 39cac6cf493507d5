/* Placement requests (templates/placements/): live over the websocket, polling while it is down,
 * a countdown to each deadline, and on the desk a sound for every request nobody has seen yet.
 * Every form works without this file; the server renders the same state on each load. */
(function () {
  "use strict";
  var POLL_MS = 10000, ALARM_MS = 15000;
  var soundOn = false, audio = null, known = {};

  // --- live: the socket pushes snapshots; while it is closed, fetch the panel every 10 s ---
  function setupLive() {
    var live = document.querySelector("[data-requests-live]");
    if (!live) return;
    var conn = document.getElementById("req-conn"), timer = null;
    function show(state) {
      conn.className = "conn conn-" + state;
      conn.querySelector(".conn-text").textContent = conn.dataset["text" + state.charAt(0).toUpperCase() + state.slice(1)];
    }
    function poll() {
      if (!window.htmx) return;
      var target = document.querySelector(live.dataset.pollTarget);
      if (!target) return;
      htmx.ajax("GET", live.dataset.pollUrl, { target: target, swap: "outerHTML", select: live.dataset.pollTarget });
    }
    live.addEventListener("htmx:wsOpen", function () {
      show("live");
      if (timer) { clearInterval(timer); timer = null; }
    });
    live.addEventListener("htmx:wsClose", function () {
      show("offline");
      if (!timer) timer = setInterval(poll, POLL_MS);
    });
  }

  // --- countdown to each open request's deadline ---
  function tick() {
    var lang = document.documentElement.lang || "nl";
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.round((Date.parse(el.getAttribute("data-deadline")) - Date.now()) / 1000);
      if (isNaN(left)) return;
      var text;
      if (left <= 0) text = lang === "nl" ? "termijn verstreken" : "deadline passed";
      else {
        var m = Math.floor(left / 60), s = left % 60;
        text = m + ":" + (s < 10 ? "0" : "") + s + (lang === "nl" ? " over om te antwoorden" : " left to answer");
      }
      el.textContent = text;
      el.classList.toggle("countdown-low", left < 60);
    });
  }

  // --- sound on the desk: a short tone for each new request, repeated until someone sees it ---
  function beep() {
    if (!soundOn || !audio) return;
    var now = audio.currentTime;
    [0, 0.35].forEach(function (offset) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, now + offset);
      gain.gain.exponentialRampToValueAtTime(0.4, now + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.3);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + offset);
      osc.stop(now + offset + 0.32);
    });
  }
  function unseen() { return document.querySelectorAll('.desk [data-alarm="1"]'); }
  function checkNew() {
    var fresh = false;
    unseen().forEach(function (el) { if (!known[el.id]) { known[el.id] = true; fresh = true; } });
    if (fresh) beep();
  }
  function setupSound() {
    var button = document.querySelector("[data-sound-toggle]");
    if (!button) return;
    unseen().forEach(function (el) { known[el.id] = true; });
    button.addEventListener("click", function () {
      // Browsers allow sound only after a tap: this tap.
      if (!audio) { var Ctx = window.AudioContext || window.webkitAudioContext; if (Ctx) audio = new Ctx(); }
      soundOn = !soundOn;
      button.setAttribute("aria-pressed", String(soundOn));
      button.querySelector("[data-label]").textContent = soundOn ? button.dataset.textOn : button.dataset.textOff;
      if (soundOn) beep();
    });
    document.addEventListener("htmx:oobAfterSwap", checkNew);
    document.addEventListener("htmx:afterSwap", checkNew);
    setInterval(function () { if (unseen().length) beep(); }, ALARM_MS);
  }

  // "Not now" on the prompt to lower the free beds: it goes; nothing is changed.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dismiss]");
    if (!button) return;
    var box = document.getElementById(button.dataset.dismiss);
    if (box) box.innerHTML = "";
  });

  function start() { setupLive(); setupSound(); tick(); setInterval(tick, 1000); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
