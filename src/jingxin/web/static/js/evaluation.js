/* 数字经信: behaviour of the 亩均 evaluation pages and the home dashboard (no inline scripts:
 * the CSP forbids them, so pages declare behaviour with data attributes and this file wires it).
 *
 * - form[data-submit-on-change]: the year and system selectors; a change reloads the page
 *   with the new run (a native submit, not HTMX, because the whole page depends on the run).
 * - [data-region-map="<id of a JSON script tag>"]: the region map. The config names the
 *   GeoJSON endpoint (/api/v1/geo/<code>, scope-checked and cached by the server), the values
 *   per region and where a click leads (a city: its counties; a county: its enterprises).
 *   The boundaries are registered with echarts.registerMap under the feature `name`, which is
 *   also how the values find their region.
 * - select[data-map-measure="<map element id>"]: recolours the map by another indicator
 *   (亩均税收 / 亩均增加值 / A类占比 / 企业数) without a round trip.
 * - Optional `points` in the config (the 5G station map): one point per object at [lon, lat],
 *   grouped by `point_groups` (key, label, colour; a legend toggles them); a click on a point
 *   opens its `url`. The regions then sit on a shared `geo` component under the points.
 */
(function () {
  "use strict";

  var PALETTE = ["#e6eef9", "#b9cde9", "#7fa3d4", "#4677b8", "#1e4f91", "#123768"];

  function readJson(id) {
    var tag = document.getElementById(id);
    if (!tag) { return null; }
    try { return JSON.parse(tag.textContent); } catch (err) { return null; }
  }

  function wireAutoSubmit(root) {
    (root || document).querySelectorAll("form[data-submit-on-change]").forEach(function (form) {
      if (form.dataset.wired) { return; }
      form.dataset.wired = "1";
      form.addEventListener("change", function () { form.submit(); });
    });
  }

  function measureValue(region, measure) {
    var value = region[measure];
    if (value === null || value === undefined) { return null; }
    return measure === "a_share" ? Math.round(value * 1000) / 10 : Math.round(value * 100) / 100;
  }

  function formatValue(value, measure, unit, decimals) {
    if (value === null || value === undefined) { return "—"; }
    if (decimals !== undefined) {
      return value.toLocaleString("zh-CN", { minimumFractionDigits: decimals, maximumFractionDigits: decimals }) + " " + unit;
    }
    if (measure === "a_share") { return value.toFixed(1) + "%"; }
    if (measure === "enterprises") { return value.toLocaleString("zh-CN") + " " + unit; }
    return value.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }) + " " + unit;
  }

  function mapOption(config, measure) {
    var info = config.measures[measure];
    var data = config.regions.map(function (r) {
      return { name: r.name, value: measureValue(r, measure), code: r.code, region: r };
    });
    var values = data.map(function (d) { return d.value; }).filter(function (v) { return v !== null; });
    var min = values.length ? Math.min.apply(null, values) : 0;
    var max = values.length ? Math.max.apply(null, values) : 1;
    if (min === max) { min = Math.min(0, min); max = max || 1; }
    return {
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          if (p.seriesType === "scatter") { return p.data.tip || p.name; }
          var r = p.data && p.data.region;
          if (!r) { return p.name + "<br>暂无评价结果"; }
          var lines = [p.name];
          Object.keys(config.measures).forEach(function (key) {
            var m = config.measures[key];
            lines.push(m.name + "：" + formatValue(measureValue(r, key), key, m.unit, m.decimals));
          });
          return lines.join("<br>");
        }
      },
      visualMap: {
        type: "continuous",
        orient: "horizontal",
        min: min,
        max: max,
        left: "center",
        bottom: 0,
        itemHeight: 180,
        itemWidth: 12,
        calculable: true,
        precision: info.decimals !== undefined ? info.decimals : (measure === "enterprises" ? 0 : 1),
        text: ["高", info.name + "（" + info.unit + "）低"],
        textStyle: { fontSize: 11 },
        inRange: { color: PALETTE }
      },
      series: [{
        type: "map",
        name: "regions",
        map: config.map_name,
        roam: false,
        selectedMode: false,
        top: 8,
        bottom: 48,
        left: 8,
        right: 8,
        label: { show: true, fontSize: 11, color: "#1f2933", textBorderColor: "#ffffff", textBorderWidth: 2 },
        labelLayout: { hideOverlap: true },
        itemStyle: { borderColor: "#ffffff", borderWidth: 1, areaColor: "#eef1f4" },
        emphasis: { label: { show: true, fontWeight: "bold" }, itemStyle: { areaColor: "#f3c15a" } },
        data: data
      }]
    };
  }

  function withPoints(config, option) {
    if (!config.points) { return option; }
    var regions = option.series[0];
    option.geo = {
      map: config.map_name, roam: false, selectedMode: false,
      top: 28, bottom: regions.bottom, left: regions.left, right: regions.right,
      label: regions.label, labelLayout: regions.labelLayout,
      itemStyle: regions.itemStyle, emphasis: regions.emphasis
    };
    regions.geoIndex = 0;
    option.visualMap.seriesIndex = 0;
    var groups = config.point_groups || [];
    groups.forEach(function (g) {
      option.series.push({
        type: "scatter",
        name: g.label,
        coordinateSystem: "geo",
        symbolSize: 8,
        itemStyle: { color: g.color, borderColor: "#ffffff", borderWidth: 1 },
        emphasis: { scale: 1.6 },
        data: config.points.filter(function (p) { return p.group === g.key; })
      });
    });
    option.legend = { top: 0, left: "center", data: groups.map(function (g) { return g.label; }) };
    return option;
  }

  function drawMap(el) {
    if (typeof window.echarts === "undefined" || el.dataset.drawn) { return; }
    var config = readJson(el.getAttribute("data-region-map"));
    if (!config) { return; }
    el.dataset.drawn = "1";
    fetch(config.geo_url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (geo) {
        var codes = {};
        geo.features.forEach(function (f) { codes[f.properties.name] = f.properties.code; });
        window.echarts.registerMap(config.map_name, geo);
        var chart = window.echarts.init(el, null, { renderer: "canvas" });
        var measure = config.measure;
        chart.setOption(withPoints(config, mapOption(config, measure)), true);
        chart.on("click", function (p) {
          if (p.seriesType === "scatter") {
            if (p.data && p.data.url) { window.location.href = p.data.url; }
            return;
          }
          var code = (p.data && p.data.code) || codes[p.name];
          if (code) { window.location.href = config.drill.url.replace("{code}", encodeURIComponent(code)); }
        });
        document.querySelectorAll('select[data-map-measure="' + el.id + '"]').forEach(function (select) {
          select.addEventListener("change", function () {
            measure = select.value;
            chart.setOption(withPoints(config, mapOption(config, measure)), true);
          });
        });
        el.setAttribute("data-map-ready", "1");
      })
      .catch(function () {
        el.textContent = "地图加载失败，请刷新页面重试。";
        el.classList.add("map-error");
      });
  }

  function drawMaps(root) {
    (root || document).querySelectorAll("[data-region-map]").forEach(drawMap);
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (typeof window.echarts === "undefined") { return; }
      document.querySelectorAll("[data-region-map]").forEach(function (el) {
        var chart = window.echarts.getInstanceByDom(el);
        if (chart) { chart.resize(); }
      });
    }, 150);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    wireAutoSubmit(event.target);
    drawMaps(event.target);
  });

  window.addEventListener("load", function () {
    wireAutoSubmit(document);
    drawMaps(document);
  });
})();
