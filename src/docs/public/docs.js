// Starts Swagger UI on this service's document. A file of its own, not an inline script:
// the Content-Security-Policy allows same-origin script files only.
window.ui = window.SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
});
