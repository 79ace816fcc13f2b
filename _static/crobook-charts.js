/* Interactive charts, loaded when the reader first interacts with the page.
   Each chart is on the page as a static SVG from the start, with its Vega-Lite spec beside it as JSON data
   (script.crobook-spec). The first scroll, pointer move, touch or key press fetches Vega (vega-bundle.js,
   beside this file, about 300 kB compressed) and draws every chart in place of its image: tooltips and sliders
   from then on. A page that is only read is never held up by chart code. */
(function () {
  var bundle = document.currentScript.src.replace(/crobook-charts\.js(\?.*)?$/, "vega-bundle.js");
  // The reader's own acts only: the page's scroll (not a sidebar the theme scrolls into place), pointer, touch
  // and keys.
  var EVENTS = ["scroll", "wheel", "pointerdown", "pointermove", "touchstart", "keydown"];
  var loading = null;

  function draw(spec) {
    var id = spec.dataset.chart;
    var box = document.getElementById(id), still = document.getElementById(id + "-static");
    vegaEmbed(box, JSON.parse(spec.textContent), {mode: "vega-lite", renderer: "svg", actions: false})
      .then(function () {
        box.classList.add("crobook-drawn");
        still.classList.add("crobook-drawn");
        // Vega names every mark group by its data; a group with no marks has no name: hide it from readers.
        box.querySelectorAll("g[role=graphics-symbol]:not([aria-label])").forEach(function (g) {
          g.setAttribute("aria-hidden", "true");
        });
      })
      .catch(function (e) { box.textContent = "Chart failed: " + e; });
  }

  function load() {
    EVENTS.forEach(function (name) { window.removeEventListener(name, load); });
    if (loading) { return; }
    loading = document.createElement("script");
    loading.src = bundle;
    loading.onload = function () { document.querySelectorAll("script.crobook-spec").forEach(draw); };
    document.head.appendChild(loading);
  }

  EVENTS.forEach(function (name) { window.addEventListener(name, load, {passive: true}); });
})();
