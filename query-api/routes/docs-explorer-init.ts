// The API explorer's start-up (GET /docs/assets/init.js): Swagger UI on the
// document this API serves. Served as a script of its own, not inline, so the
// page's Content-Security-Policy allows only scripts from this origin. Kept as
// text in a module so the built server (dist/) carries it without a file beside it.
export const EXPLORER_INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    // "Authorize" keeps the caller's API key or token across reloads of this tab's page
    persistAuthorization: true,
    displayRequestDuration: true,
    docExpansion: 'list',
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;
