/* The duty console in the browser (/duty): keyboard, selection, bulk marks, countdowns, the alarm sound.

   Selection and marks live here and reach Dash through set_props, so a queue refresh never loses them; the
   server only sends rows. Countdowns tick here every second from each row's data-due. A new red or orange alert
   (row class "alarm") sounds a chime at once and every ALARM_REPEAT_MS while any stays unacknowledged, unless this
   console is muted (kept in localStorage). The chime is synthesized (Web Audio), so nothing is downloaded.

   An incident's row stands for its most urgent alert (data-id) and, opened with its ▸ button or the right arrow,
   lists its alerts below it; which incidents are open lives here too (duty-expanded). Rows are told apart by
   data-key, since an incident's row and its first alert's carry the same alert id. */
window.cityops = window.cityops || {};
window.cityops.duty = (function () {
  const ALARM_REPEAT_MS = 20000;
  const MUTE_KEY = "cityops.duty.muted";
  const state = {selected: null, key: null, checked: [], expanded: [], heard: new Set(), lastChime: 0, chimes: 0,
                 audio: null, observer: null, watched: null, answered: Date.now(), console: null};

  function page() { return document.getElementById("duty-queue"); }
  function rows() { return Array.from(document.querySelectorAll("#duty-queue .q-row")); }
  function set(id, props) { window.dash_clientside.set_props(id, props); }
  function muted() { return window.localStorage.getItem(MUTE_KEY) === "1"; }
  function open(id) { const el = document.getElementById(id); return el && !el.classList.contains("hidden"); }

  function select(id, key) {
    state.selected = id;
    state.key = key || null;
    set("duty-selected", {data: id});
  }

  function selectRow(row) { select(Number(row.dataset.id), row.dataset.key); }

  // The selected row: the one chosen by its key, else (a selection from the URL) the first with the alert's id.
  function current(all) {
    const byKey = all.findIndex(function (r) {
      return state.key !== null && r.dataset.key === state.key && Number(r.dataset.id) === state.selected;
    });
    return byKey >= 0 ? byKey : all.findIndex(function (r) { return Number(r.dataset.id) === state.selected; });
  }

  function move(delta) {
    const all = rows();
    if (!all.length) return;
    let i = current(all);
    i = i < 0 ? 0 : Math.max(0, Math.min(all.length - 1, i + delta));
    selectRow(all[i]);
  }

  function expand(incident, open_) {
    const id = Number(incident);
    const others = state.expanded.filter(function (x) { return x !== id; });
    state.expanded = (open_ ? others.concat([id]) : others).slice(-50);  // as many as the server takes
    set("duty-expanded", {data: state.expanded});
  }

  function expandSelected(open_) {
    const all = rows(), i = current(all);
    const button = i >= 0 && all[i].querySelector(".q-expand");
    if (button) expand(button.dataset.incident, open_);
  }

  function toggleMark() {
    if (state.selected === null) return;
    const marks = state.checked.filter(function (id) { return id !== state.selected; });
    if (marks.length === state.checked.length) marks.push(state.selected);
    state.checked = marks;
    set("duty-checked", {data: marks});
  }

  function press(selector) {
    const el = document.querySelector(selector);
    if (el && !el.disabled) el.click();
  }

  // "/" goes to the first filter: Dash 4 draws a dropdown as the button that opens it (earlier, an input inside).
  function focusFilters() {
    const f = document.getElementById("duty-filter-domain");
    const target = f && (f.matches("input, button") ? f : f.querySelector("input, button"));
    if (target) window.setTimeout(function () { target.focus(); }, 0);  // after this key, which is not typed there
  }

  // An action's key: pressed when the detail offers it; else said, so a key that does nothing is never silent.
  function pressKey(key) {
    const button = document.querySelector('#duty-actions button[data-key="' + key + '"]');
    if (button && !button.disabled) { button.click(); return; }
    const console_ = document.querySelector(".duty");
    if (console_ && console_.dataset.noActionLabel) {
      set("duty-message", {children: console_.dataset.noActionLabel.replace("{key}", key)});
    }
  }

  // The queue's pages: the server says which page it drew (data-page); a button or PgDn / PgUp asks for the next.
  function turnPage(delta) {
    const where = document.querySelector("#duty-page-where [data-page]");
    const button = document.getElementById(delta > 0 ? "duty-page-next" : "duty-page-prev");
    if (!where || !button || button.disabled) return;
    set("duty-page", {data: Math.max(0, Number(where.dataset.page) + delta)});
  }

  // Whether the queue is behind: no answer from the server (a "nothing new" counts) for data-behind-after-ms.
  function behind(now) {
    const console_ = document.querySelector(".duty"), note = document.getElementById("duty-behind");
    if (!console_ || !note) return;
    if (state.console !== console_) { state.console = console_; state.answered = now; }  // a desk just opened
    const late = now - state.answered > Number(console_.dataset.behindAfterMs);
    if (late === console_.classList.contains("behind")) return;
    console_.classList.toggle("behind", late);
    const at = new Date(state.answered).toLocaleTimeString("en-GB", {timeZone: console_.dataset.tz, hour12: false});
    note.textContent = late ? console_.dataset.behindText.replace("{time}", at) : "";
  }

  // The dialogs' classes belong to Dash (the server opens the action dialog), so they change through set_props.
  function showHelp(show) { set("duty-help", {className: "duty-help" + (show ? "" : " hidden")}); }
  function closeDialog() { set("duty-dialog", {className: "duty-dialog hidden"}); }

  function setUrl(params) {
    const url = new URL(window.location.href);
    Object.keys(params).forEach(function (k) {
      if (params[k] === null || params[k] === undefined || params[k] === "") url.searchParams.delete(k);
      else url.searchParams.set(k, params[k]);
    });
    window.history.replaceState(null, "", url.pathname + url.search);
  }

  function onKey(event) {
    if (!page()) return;
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) || event.target.isContentEditable;
    if (event.key === "Escape") {
      if (open("duty-dialog")) closeDialog();
      if (open("duty-help")) showHelp(false);
      return;
    }
    if (open("duty-dialog")) {
      // In the dialog, Enter confirms from anywhere but the buttons (which Enter presses themselves).
      if (event.key === "Enter" && event.target.tagName !== "BUTTON" && event.target.id !== "duty-note") {
        event.preventDefault();
        press("#duty-confirm");
      }
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    let done = true;
    if (event.key === "ArrowDown" || event.key === "j") move(1);
    else if (event.key === "ArrowUp" || event.key === "k") move(-1);
    else if (event.key === "ArrowRight") expandSelected(true);
    else if (event.key === "ArrowLeft") expandSelected(false);
    else if (event.key === " ") toggleMark();
    else if (event.key === "A") press("#duty-bulk");
    else if (event.key === "?") showHelp(!open("duty-help"));
    else if (event.key === "m") toggleMute();
    else if (event.key === "/") focusFilters();
    else if (event.key === "PageDown") turnPage(1);
    else if (event.key === "PageUp") turnPage(-1);
    else if (event.key.length === 1 && /[a-z]/.test(event.key)) pressKey(event.key);
    else done = false;
    if (done) event.preventDefault();
    unlockAudio();
  }

  function onClick(event) {
    if (!page()) return;
    unlockAudio();
    const row = event.target.closest && event.target.closest("#duty-queue .q-row");
    if (row) {
      const toggle = event.target.closest(".q-expand");
      if (toggle) expand(toggle.dataset.incident, row.getAttribute("aria-expanded") !== "true");
      if (event.target.classList.contains("q-mark")) { selectRow(row); toggleMark(); }
      else selectRow(row);
      return;
    }
    if (event.target.closest("#duty-dialog-close")) closeDialog();
    else if (event.target.closest("#duty-page-next")) turnPage(1);
    else if (event.target.closest("#duty-page-prev")) turnPage(-1);
    else if (event.target.closest("#duty-help-open")) showHelp(true);
    else if (event.target.closest("#duty-help-close")) showHelp(false);
    else if (event.target.closest("#duty-mute")) toggleMute();
  }

  // -- marks -------------------------------------------------------------------------------------------------
  // The rows' classes come from the server, and React writes them again whenever the queue is redrawn, which may
  // happen after Dash has run mark(). So the marks are applied again on every change of the queue's DOM. Only
  // what differs is written, so the observer's own changes end the cycle.
  function apply() {
    let chosen = null;
    const all = rows(), at = current(all);
    all.forEach(function (r, i) {
      const id = Number(r.dataset.id);
      const on = i === at, marked = state.checked.indexOf(id) >= 0;
      if (r.classList.contains("selected") !== on) r.classList.toggle("selected", on);
      if (r.getAttribute("aria-selected") !== String(on)) r.setAttribute("aria-selected", String(on));
      if (r.classList.contains("marked") !== marked) r.classList.toggle("marked", marked);
      if (on) chosen = r;
    });
    return chosen;
  }

  function watch() {
    const queue = page();
    if (!queue || state.watched === queue) return;
    if (state.observer) state.observer.disconnect();
    state.observer = new MutationObserver(function () { apply(); });
    state.observer.observe(queue, {subtree: true, childList: true, attributes: true,
                                   attributeFilter: ["class", "aria-selected"]});
    state.watched = queue;
  }

  // -- countdowns ----------------------------------------------------------------------------------------------
  function clock(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h ? h + ":" + two(m) : m) + ":" + two(r);
  }

  function tick() {
    if (!page()) return;
    const now = Date.now();
    document.querySelectorAll("#duty-queue .q-due[data-due]").forEach(function (el) {
      const left = Date.parse(el.dataset.due) - now;
      el.textContent = (left >= 0 ? el.dataset.label : el.dataset.late) + " " + clock(left);
      el.classList.toggle("late", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 5 * 60000);
    });
    alarm(now);
    behind(now);
  }

  // -- the alarm -----------------------------------------------------------------------------------------------
  function unlockAudio() {
    // Browsers start audio only after a gesture; the first key or click of the shift opens it.
    try {
      state.audio = state.audio || new (window.AudioContext || window.webkitAudioContext)();
      if (state.audio.state === "suspended") state.audio.resume();
    } catch (e) { state.audio = null; }
  }

  function chime() {
    state.chimes += 1;
    state.lastChime = Date.now();
    document.body.dataset.chimes = String(state.chimes);
    const ctx = state.audio;
    if (!ctx || ctx.state !== "running") return;
    [880, 660, 880].forEach(function (freq, i) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      const t0 = ctx.currentTime + i * 0.22;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.3, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.21);
    });
  }

  function alarm(now) {
    const ids = Array.from(document.querySelectorAll("#duty-queue .q-row.alarm")).map(function (r) { return r.dataset.id; });
    const fresh = ids.some(function (id) { return !state.heard.has(id); });
    ids.forEach(function (id) { state.heard.add(id); });
    const console_ = document.querySelector(".duty");
    if (console_) console_.classList.toggle("alarming", ids.length > 0);
    if (!ids.length || muted()) return;
    if (fresh || now - state.lastChime >= ALARM_REPEAT_MS) chime();
  }

  function toggleMute() {
    window.localStorage.setItem(MUTE_KEY, muted() ? "0" : "1");
    showMute();
  }

  function showMute() {
    const button = document.getElementById("duty-mute"), console_ = document.querySelector(".duty");
    if (!button || !console_) return;
    button.textContent = muted() ? console_.dataset.mutedLabel : console_.dataset.unmutedLabel;
    button.setAttribute("aria-pressed", muted() ? "true" : "false");
  }

  // The queue's tick is off while any of its refreshes is on its way, so that a slow answer is never overtaken by
  // a newer request (Dash would discard it, and under load the queue stayed blank). Counted here rather than with
  // the callback's `running`, which a second request overlapping the first (a filter changed) would turn back on
  // when the first one ends, and which stays off when a request fails outright (the server down or restarting).
  let refreshing = 0;
  function tickOn(on) { window.setTimeout(function () { if (page()) set("duty-tick", {disabled: !on}); }); }
  const plainFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const answer = plainFetch(input, init);
    const body = init && typeof init.body === "string" ? init.body : "";
    if (body.indexOf("duty-queue.children") >= 0) {
      refreshing += 1;
      if (refreshing === 1) tickOn(false);
      const done = function () { refreshing -= 1; if (refreshing === 0) tickOn(true); };
      answer.then(function (response) { return response.clone().arrayBuffer(); }).then(done, done);
    }
    return answer;
  };

  document.addEventListener("keydown", onKey);
  document.addEventListener("click", onClick);
  window.setInterval(tick, 1000);

  return {
    // Called by Dash when the selection, the marks or the rows change.
    mark: function (selected, checked) {
      state.selected = selected === undefined ? null : selected;
      state.checked = checked || [];
      watch();
      const chosen = apply();
      if (chosen) chosen.scrollIntoView({block: "nearest"});
      setUrl({alert: state.selected});
      showMute();
      tick();
      return window.dash_clientside.no_update;
    },
    // Called when the action dialog opens or closes: focus goes to its first field, or back to the queue.
    focusDialog: function (className) {
      window.setTimeout(function () {
        if (className.indexOf("hidden") >= 0) { if (document.activeElement) document.activeElement.blur(); return; }
        // The suggested unit when there is one: Enter then sends to it. (A selector list would give the first
        // radio in the page's order, and Enter sent the alert to the first unit.)
        const units = "#duty-dialog-unit:not([style*='none']) input";
        const unit = document.querySelector(units + ":checked") || document.querySelector(units);
        const minutes = document.querySelector("#duty-dialog-minutes:not([style*='none']) input");
        (unit || minutes || document.getElementById("duty-note")).focus();
      }, 0);
      return window.dash_clientside.no_update;
    },
    filters: function (values) {
      setUrl(values);
      set("duty-page", {data: 0});
      return window.dash_clientside.no_update;
    },
    // Called with each answer of the queue's refresh, "nothing new" too.
    answered: function () {
      state.answered = Date.now();
      behind(state.answered);
      return window.dash_clientside.no_update;
    },
    chimes: function () { return state.chimes; },
  };
})();
