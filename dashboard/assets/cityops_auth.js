/* Signing in, seen from the page: a request answered 401 means the session ended (or the wall's link was
   revoked): reload, which leads to the sign-in page with the reason. */
(function () {
  "use strict";
  const originalFetch = window.fetch.bind(window);
  let reloading = false;
  window.fetch = function (resource, init) {
    return originalFetch(resource, init).then((response) => {
      if (response.status === 401 && !reloading) {
        reloading = true;
        window.location.reload();
      }
      return response;
    });
  };
})();
