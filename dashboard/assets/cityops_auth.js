/* Signing in, seen from the page.
   - Every request Dash makes says how long ago this page's user last pressed a key, clicked or touched
     (X-CityOps-Idle-S): the server keeps a session open on that, not on the page's own refreshes.
   - A request answered 401 means the session ended (or the wall's link was revoked): reload, which leads to the
     sign-in page with the reason. */
(function () {
  "use strict";
  let lastInput = Date.now();
  for (const type of ["keydown", "pointerdown", "touchstart", "wheel"]) {
    window.addEventListener(type, () => { lastInput = Date.now(); }, {capture: true, passive: true});
  }
  const originalFetch = window.fetch.bind(window);
  let reloading = false;
  window.fetch = function (resource, init) {
    const options = Object.assign({}, init || {});
    const headers = new Headers(options.headers || {});
    headers.set("X-CityOps-Idle-S", String(Math.round((Date.now() - lastInput) / 1000)));
    options.headers = headers;
    return originalFetch(resource, options).then((response) => {
      if (response.status === 401 && !reloading) {
        reloading = true;
        window.location.reload();
      }
      return response;
    });
  };
})();
