/* The wall's news (dashboard/news.py): one request kept open, answered by the server as soon as the wall's
   snapshot changes. The new key goes to the store wall-news, whose change runs the wall's refresh at once, so a
   reading does not wait for the next tick to reach the screen. The loop runs while a wall marked data-news is on
   screen (checked every second, as Dash pages come and go without reloading); after an error or a refusal it
   waits, and the wall's tick goes on meanwhile. After a new key it asks again only once the refresh that key set off
   is drawn: on a slow machine a new snapshot can come faster than the wall draws one, and a newer refresh request
   would discard the answer on its way. It also tells when the server stops answering (checkConnection). */
window.cityops = window.cityops || {};
window.cityops.wall = (function () {
  "use strict";
  const RETRY_MS = 5000;
  const REFUSED_MS = 30000; // 429: as many walls wait as the server allows
  const DRAWN_WAIT_MS = 10000; // the longest a new key waits for its refresh, should it never start
  let following = false;
  let refreshes = 0; // the wall's refresh requests sent so far
  let refreshing = 0; // of them, those on their way

  function frame() { return new Promise(function (resolve) { requestAnimationFrame(function () { resolve(); }); }); }

  // Until a refresh sent after the `sent`-th has come back and been drawn (its props are set as its answer is read,
  // and painted at the next frame).
  async function drawn(sent) {
    const until = Date.now() + DRAWN_WAIT_MS;
    while (Date.now() < until && (refreshes <= sent || refreshing > 0)) await pause(20);
    await frame();
    await frame();
  }

  function onWall() { return document.querySelector(".wall[data-news]") !== null; }
  function pause(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  async function follow() {
    following = true;
    let since = "";
    try {
      while (onWall()) {
        let key = null;
        const asked = Date.now();
        try {
          const response = await fetch("/api/wall/news?since=" + encodeURIComponent(since), {cache: "no-store"});
          if (response.ok) key = (await response.json()).key;
          else await pause(response.status === 429 ? REFUSED_MS : RETRY_MS);
        } catch (error) {
          await pause(RETRY_MS);
        }
        if (key && key !== since && onWall()) {
          since = key;
          const until = Date.now() + DRAWN_WAIT_MS;
          while (refreshing > 0 && Date.now() < until) await pause(20); // one refresh on its way at a time
          const sent = refreshes;
          window.dash_clientside.set_props("wall-news", {data: key});
          await drawn(sent);
        } else if (Date.now() - asked < 1000) {
          await pause(RETRY_MS); // "nothing new" at once: the server is stopping; do not ask in a tight loop
        }
      }
    } finally {
      following = false;
    }
  }

  // Whether the server still answers. Every answer counts (a refusal too: the server is there), a network error or
  // a proxy's 5xx does not. A wall that has heard nothing for data-offline-after-ms says so across the screen,
  // with the time its data is from, and greys what it shows; the first answer ends it.
  let lastHeard = Date.now();
  const plainFetch = window.fetch.bind(window);
  // The wall's refresh requests are counted: the news waits for them (drawn), and the tick is off while any is on
  // its way, so that a slow answer is never overtaken by a newer request (Dash would discard it). Counted here
  // rather than with the callback's `running`, which a second request overlapping the first (a map move) would
  // turn back on when the first one ends; and which stays off when a request fails outright.
  function tick(on) {
    window.setTimeout(function () { if (onWall()) window.dash_clientside.set_props("wall-tick", {disabled: !on}); });
  }
  window.fetch = function (input, init) {
    const answer = plainFetch(input, init);
    answer.then(function (response) { if (response.status < 500) lastHeard = Date.now(); }, function () {});
    const body = init && typeof init.body === "string" ? init.body : "";
    if (body.indexOf("wall-seen.data") >= 0) {
      refreshes += 1;
      refreshing += 1;
      if (refreshing === 1) tick(false);
      const done = function () { refreshing -= 1; if (refreshing === 0) tick(true); };
      answer.then(function (response) { return response.clone().arrayBuffer(); }).then(done, done);
    }
    return answer;
  };

  function checkConnection() {
    const wall = document.querySelector(".wall[data-offline-after-ms]");
    const banner = document.getElementById("wall-offline");
    if (!wall || !banner) return;
    const offline = Date.now() - lastHeard > Number(wall.dataset.offlineAfterMs);
    if (offline === document.body.classList.contains("wall-offline")) return;
    document.body.classList.toggle("wall-offline", offline);
    const clock = document.getElementById("wall-clock");
    const tz = (clock && clock.dataset.tz) || undefined;
    const at = new Date(lastHeard).toLocaleTimeString("en-GB", {timeZone: tz, hour12: false});
    banner.textContent = offline ? wall.dataset.offlineText.replace("{time}", at) : "";
  }

  // A wall has no mouse: its controls show while a pointer moves over it, and hide again after POINTER_IDLE_MS.
  const POINTER_IDLE_MS = 8000;
  let pointerTimer = null;
  function pointerMoved() {
    if (!document.querySelector(".wall")) return;
    document.body.classList.add("wall-pointer");
    window.clearTimeout(pointerTimer);
    pointerTimer = window.setTimeout(function () { document.body.classList.remove("wall-pointer"); }, POINTER_IDLE_MS);
  }
  ["mousemove", "pointerdown", "touchstart", "keydown"].forEach(function (name) {
    document.addEventListener(name, pointerMoved, {passive: true});
  });

  window.setInterval(function () { if (!following && onWall() && window.dash_clientside) follow(); }, 1000);
  window.setInterval(checkConnection, 1000);
  return {following: function () { return following; }};
})();
