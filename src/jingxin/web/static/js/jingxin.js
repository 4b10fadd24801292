/* 数字经信: the little JavaScript the pages need. No inline scripts (the CSP forbids them):
 * behaviour is declared with data attributes and wired here.
 *
 * - [data-chart="<id of a JSON script tag>"]: draws an ECharts chart from the option in that
 *   tag (see the `chart` macro in ui/macros.html); redrawn after HTMX swaps, resized with the
 *   window.
 * - form[data-confirm="..."]: asks before submitting.
 * - [data-show-for-role]: in the user form, shows the fields that belong to the chosen role.
 * - HTMX sends the CSRF token from <body hx-headers>; this file only adds the fallback of
 *   reading it from <meta name="csrf-token"> for requests HTMX makes outside the body.
 */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function drawCharts(root) {
    if (typeof window.echarts === "undefined") { return; }
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) { return; }
      var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el, null, { renderer: "canvas" });
      try {
        chart.setOption(JSON.parse(source.textContent), true);
      } catch (err) {
        el.textContent = "图表数据有误";
      }
    });
  }

  function resizeCharts() {
    if (typeof window.echarts === "undefined") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = window.echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  }

  function wireRoleFields(root) {
    (root || document).querySelectorAll("select[data-role-select]").forEach(function (select) {
      var form = select.form;
      function update() {
        form.querySelectorAll("[data-show-for-role]").forEach(function (block) {
          var roles = block.getAttribute("data-show-for-role").split(" ");
          block.hidden = roles.indexOf(select.value) === -1;
        });
      }
      select.addEventListener("change", update);
      update();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.headers["X-CSRF-Token"]) {
      event.detail.headers["X-CSRF-Token"] = csrfToken();
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    drawCharts(event.target);
    wireRoleFields(event.target);
  });

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(resizeCharts, 150);
  });

  window.addEventListener("load", function () {
    drawCharts(document);
    wireRoleFields(document);
  });
})();
