/* 通报 ranking: a line chart of the chosen rate per lecture (the first ranked units and
   the total), from the JSON the page embeds with json_script. Chart.js is vendored
   (static/vendor/chart.js). The same figures are in the table below the chart. */
(function () {
  "use strict";
  var source = document.getElementById("ranking-data");
  var canvas = document.getElementById("ranking-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var palette = ["#c8161d", "#1f6feb", "#2da44e", "#bf8700", "#8250df",
                 "#cf222e", "#0a7ea4", "#6e7781", "#e16f24", "#116329"];
  var narrow = window.matchMedia("(max-width: 480px)").matches;
  var datasets = data.units.map(function (unit, i) {
    return {
      label: unit.label,
      data: unit.data,
      borderColor: palette[i % palette.length],
      backgroundColor: palette[i % palette.length],
      borderWidth: 2,
      pointRadius: narrow ? 2 : 3,
      spanGaps: true,
      tension: 0.2
    };
  });
  datasets.push({
    label: data.total.label,
    data: data.total.data,
    borderColor: "#1f2328",
    backgroundColor: "#1f2328",
    borderDash: [6, 4],
    borderWidth: 3,
    pointRadius: narrow ? 2 : 3,
    spanGaps: true
  });
  new Chart(canvas, {
    type: "line",
    data: { labels: data.labels, datasets: datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        y: {
          min: 0,
          max: 100,
          title: { display: !narrow, text: data.metric },
          ticks: { callback: function (v) { return v + "%"; } }
        },
        x: { ticks: { autoSkip: true, maxRotation: 0, font: { size: narrow ? 10 : 12 } } }
      },
      plugins: {
        legend: {
          position: "bottom",
          labels: { boxWidth: narrow ? 10 : 16, font: { size: narrow ? 10 : 12 } }
        },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var v = ctx.parsed.y;
              return ctx.dataset.label + ": " + (v === null ? "—" : v + "%");
            }
          }
        }
      }
    }
  });
})();
