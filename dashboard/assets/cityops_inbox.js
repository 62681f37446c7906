// The inbox's steps on a phone on a slow network (dashboard/inbox.py): photos shrunk on the phone before they are
// sent, the position added where the step asks for it, and a step sent again when the network drops it. Each form
// carries its own request id, so the server does a step sent twice once. Without this script the forms post as
// they are.
(function () {
  "use strict";
  var LONGEST = 1600; // px: a photo's longer side once shrunk; enough to read a plate or a crack
  var QUALITY = 0.82;
  var WAITS = [1, 2, 4, 8, 16, 30]; // s between tries

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\//.test(file.type)) { resolve(file); return; }
      var url = URL.createObjectURL(file);
      var image = new Image();
      image.onload = function () {
        var scale = Math.min(1, LONGEST / Math.max(image.naturalWidth, image.naturalHeight));
        if (scale === 1 && file.size < 900 * 1024) { URL.revokeObjectURL(url); resolve(file); return; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(image.naturalWidth * scale);
        canvas.height = Math.round(image.naturalHeight * scale);
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) {
          resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
        }, "image/jpeg", QUALITY);
      };
      image.onerror = function () { URL.revokeObjectURL(url); resolve(file); }; // the server says what is wrong
      image.src = url;
    });
  }

  function position(form) {
    return new Promise(function (resolve) {
      if (!form.hasAttribute("data-position") || !navigator.geolocation) { resolve(); return; }
      navigator.geolocation.getCurrentPosition(function (p) {
        form.elements.lon.value = p.coords.longitude;
        form.elements.lat.value = p.coords.latitude;
        form.elements.accuracy.value = p.coords.accuracy;
        resolve();
      }, function () { resolve(); }, { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
    });
  }

  function say(form, text) {
    var out = form.querySelector(".inbox-sending");
    if (out) { out.textContent = text; }
  }

  function send(form, body, attempt) {
    var labels = form.querySelector(".inbox-sending").dataset; // the page's words, in its language
    say(form, labels.sending);
    var csrf = form.elements.csrf_token ? form.elements.csrf_token.value : "";
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin",
                         headers: { "Accept": "application/json", "X-CSRFToken": csrf } })
      .then(function (response) {
        var button = form.querySelector("button[type=submit]");
        if ((response.headers.get("Content-Type") || "").indexOf("application/json") >= 0) {
          return response.json().then(function (answer) {
            if (answer.ok) { window.location.assign(answer.next); return; }
            say(form, answer.message || labels.refused);
            button.disabled = false;
          });
        }
        if (response.status >= 502 && response.status <= 504) { throw new Error("gateway"); } // a proxy's: retry
        say(form, response.status === 413 ? labels.tooLarge : labels.refused); // not the network: no retry
        button.disabled = false;
      })
      .catch(function () {
        if (attempt >= WAITS.length) {
          say(form, labels.failed);
          form.querySelector("button[type=submit]").disabled = false;
          return;
        }
        say(form, labels.again.replace("{s}", WAITS[attempt]));
        setTimeout(function () { send(form, body, attempt + 1); }, WAITS[attempt] * 1000);
      });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-retry") || !window.fetch || !window.FormData) { return; }
    event.preventDefault();
    if (!form.reportValidity()) { return; }
    form.querySelector("button[type=submit]").disabled = true;
    var files = form.elements.photos ? Array.prototype.slice.call(form.elements.photos.files) : [];
    position(form).then(function () {
      return Promise.all(files.map(shrink));
    }).then(function (photos) {
      var body = new FormData(form);
      body.delete("photos");
      photos.forEach(function (photo) { body.append("photos", photo, photo.name); });
      send(form, body, 0);
    });
  });
})();
