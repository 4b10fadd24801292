// Starts the self-hosted Swagger UI on the app's OpenAPI document (see jingxin.ops.apidocs).
(function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: node.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // Requests made with "Try it out" carry the session cookie and the CSRF header.
    requestInterceptor: function (req) {
      var token = window.sessionStorage.getItem("jingxin-csrf");
      if (token) { req.headers["X-CSRF-Token"] = token; }
      return req;
    },
  });
  fetch("/api/v1/me", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (me) { if (me && me.csrf_token) { window.sessionStorage.setItem("jingxin-csrf", me.csrf_token); } });
})();
