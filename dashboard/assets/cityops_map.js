/* Map functions dash-leaflet calls by name (window.cityops.map.*). Statuses arrive in `hideout` as one code per
   feature ("r" red, "o" orange, "y" yellow, "b" blue, "k" ok, "n" no data, "x" offline), so a status change
   restyles the map without sending the features again. Text from feeds is set with textContent, never as HTML. */
window.cityops = window.cityops || {};
window.cityops.map = (function () {
  const COLOURS = {r: "#e5484d", o: "#f76b15", y: "#f5d90a", b: "#3e8ef7", k: "#2fbf71", n: "#6b7280", x: "#6b7280"};
  const RANK = {r: 6, o: 5, y: 4, b: 3, x: 2, n: 1, k: 0};
  // Reference layers by kind: colours that none of the statuses uses.
  const REFERENCE = {shelter: "#22d3ee", hospital: "#f472b6", school: "#a3e635", hydrant: "#fb7185",
                     waterlogging: "#38bdf8", reservoir: "#60a5fa", key_site: "#fbbf24", other: "#c4b5fd"};
  // Markers grow with the screen like the type does: a 4K wall at 100 % shows them twice the 1080p size.
  function scale() { return Math.max(1, Math.min(window.innerWidth / 1920, window.innerHeight / 1080)); }

  function statusOf(feature, hideout) {
    const codes = (hideout && hideout.status) || "";
    const i = feature.properties.i;
    return (i !== undefined && i < codes.length) ? codes.charAt(i) : "n";
  }

  // A click drills down: district → /region/<id>, device → /entity/<id>, alert → /alert/<id> (same language).
  function drillTo(kind, id) {
    const lang = new URLSearchParams(window.location.search).get("lang");
    window.location.assign("/" + kind + "/" + encodeURIComponent(id) + (lang ? "?lang=" + encodeURIComponent(lang) : ""));
  }

  function referenceLook(feature) {
    const colour = REFERENCE[feature.properties.kind] || "#c4b5fd", kind = " ref-" + feature.properties.kind;
    if (feature.geometry.type.indexOf("Point") >= 0) {
      return {color: "#0b0f14", weight: 1, fillColor: colour, fillOpacity: 0.9, className: "ref" + kind};
    }
    return {color: colour, weight: 1.5 * scale(), opacity: 0.9, fillOpacity: 0.2, className: "ref ref-area" + kind};
  }

  function textTooltip(text) {
    const el = document.createElement("div");
    el.textContent = text;
    return el;
  }

  // `domain` (the wall's device layers) classes a marker "dev dev-<domain>": the wall hides them at the city view.
  function devClass(domain) { return domain ? " dev dev-" + domain : ""; }

  function point(feature, latlng, s, domain) {
    const quiet = s === "k" || s === "n" || s === "x";
    const marker = L.circleMarker(latlng, {
      radius: (quiet ? 5 : 8) * scale(),
      color: s === "n" || s === "x" ? "#9ca3af" : "#0b0f14",
      weight: s === "x" ? 2 : 1,
      dashArray: s === "n" || s === "x" ? "2 2" : null,
      fillColor: COLOURS[s] || COLOURS.n,
      fillOpacity: quiet ? 0.55 : 0.95,
      className: "pt pt-" + s + devClass(domain),
    });
    marker.bindTooltip(textTooltip(feature.properties.name));
    marker.on("click", function () { drillTo("entity", feature.properties.id); });
    return marker;
  }

  function clusterIcon(label, count, s, domain) {
    const text = document.createElement("span");
    text.textContent = label;
    const inner = document.createElement("div");
    inner.appendChild(text);
    const size = Math.round((42 + Math.min(26, Math.log10(count + 1) * 9)) * scale());  // holds its count's type
    return L.divIcon({html: inner, className: "cluster cluster-" + s + devClass(domain), iconSize: L.point(size, size)});
  }

  // Names districts where they fit: largest on screen first, each shown when its label lies inside its district's
  // frame on screen and inside the map, and clear of the labels already shown.
  function placeLabels(map) {
    const found = [];
    map.eachLayer(function (layer) {
      const tip = layer.getTooltip && layer.getTooltip();
      if (tip && tip.options.className === "district-label" && tip._container && layer.getBounds) found.push(layer);
    });
    const frame = map.getContainer().getBoundingClientRect(), placed = [];
    found.map(function (layer) {
      const b = layer.getBounds();
      const a = map.latLngToContainerPoint(b.getNorthWest()), z = map.latLngToContainerPoint(b.getSouthEast());
      return {layer: layer, w: z.x - a.x, h: z.y - a.y};
    }).sort(function (p, q) { return q.w * q.h - p.w * p.h; }).forEach(function (p) {
      const el = p.layer.getTooltip()._container;
      el.style.visibility = "hidden";
      const r = el.getBoundingClientRect();
      const fits = r.width < p.w * 0.9 && r.height < p.h * 0.6 && r.left >= frame.left && r.right <= frame.right &&
                   r.top >= frame.top && r.bottom <= frame.bottom;
      const clear = placed.every(function (o) {
        return r.right < o.left || r.left > o.right || r.bottom < o.top || r.top > o.bottom;
      });
      if (fits && clear) { el.style.visibility = "visible"; placed.push(r); }
    });
  }

  // As supercluster abbreviates its counts: 1234 → 1.2k, 56789 → 57k.
  function abbreviated(n) {
    return n >= 10000 ? Math.round(n / 1000) + "k" : n >= 1000 ? Math.round(n / 100) / 10 + "k" : String(n);
  }

  return {
    pointToLayer: function (feature, latlng, context) {
      return point(feature, latlng, statusOf(feature, context.hideout), context.hideout && context.hideout.domain);
    },

    clusterToLayer: function (feature, latlng, index, context) {
      // The rule of alerts.levels.summarize: the worst warning colour inside, else grey when half is silent.
      const leaves = index.getLeaves(feature.properties.cluster_id, Infinity);
      let best = null, silent = 0;
      for (const leaf of leaves) {
        const s = statusOf(leaf, context.hideout);
        if (s === "n" || s === "x") silent += 1;
        else if (s !== "k" && (best === null || RANK[s] > RANK[best])) best = s;
      }
      if (best === null) best = 2 * silent >= leaves.length ? "n" : "k";
      return L.marker(latlng, {icon: clusterIcon(feature.properties.point_count_abbreviated,
                                                 feature.properties.point_count, best,
                                                 context.hideout && context.hideout.domain)});
    },

    // A layer too large to cluster in the browser comes gathered into cells by the server (layers/cells.py):
    // a cell has its count `n` and summary status `s`; a point alone has its own properties and `s`.
    cellToLayer: function (feature, latlng, context) {
      const p = feature.properties, domain = context && context.hideout && context.hideout.domain;
      if (p.n === undefined) return point(feature, latlng, p.s || "n", domain);
      const marker = L.marker(latlng, {icon: clusterIcon(abbreviated(p.n), p.n, p.s, domain)});
      marker.on("click", function () {
        const map = this._map;
        if (map) map.setView(latlng, Math.min(map.getZoom() + 2, 18));
      });
      return marker;
    },

    alertToLayer: function (feature, latlng, context) {
      const p = feature.properties;
      const colour = {red: "#e5484d", orange: "#f76b15", yellow: "#f5d90a", blue: "#3e8ef7"}[p.sev] || "#6b7280";
      const marker = L.circleMarker(latlng, {
        radius: 13 * scale(), color: p.overdue ? "#ffffff" : "#0b0f14", weight: p.overdue ? 3 : 2,
        fillColor: colour, fillOpacity: p.active ? 0.9 : 0.45,
        className: "alert-marker alert-" + p.sev + (p.overdue ? " alert-overdue" : ""),
      });
      const lang = (context.hideout && context.hideout.lang) || "zh_CN";
      marker.bindTooltip(textTooltip(lang === "en" ? p.en : p.zh));
      marker.on("click", function () { drillTo("alert", p.id); });
      return marker;
    },

    // A reference layer's place (a shelter, a hospital …): a small square in its kind's colour, its name on hover;
    // an area (a reservoir, a site) is drawn by referenceStyle. Places are no devices: a click goes nowhere.
    referenceToLayer: function (feature, latlng) {
      const marker = L.circleMarker(latlng, Object.assign({radius: 5 * scale()}, referenceLook(feature)));
      marker.bindTooltip(textTooltip(feature.properties.name + " · " + feature.properties.layer));
      return marker;
    },

    // dash-leaflet styles every layer of a GeoJSON with this, the points pointToLayer made too.
    referenceStyle: function (feature) { return referenceLook(feature); },

    referenceEachFeature: function (feature, layer) {
      if (feature.geometry.type.indexOf("Point") < 0) layer.bindTooltip(textTooltip(feature.properties.name + " · " + feature.properties.layer),
                                            {sticky: true});
    },

    // An incident's area: an outline in its severity's colour, lightly filled, so the devices inside stay readable.
    incidentStyle: function (feature) {
      const colour = {red: "#e5484d", orange: "#f76b15", yellow: "#f5d90a", blue: "#3e8ef7"}[feature.properties.sev];
      return {color: colour || "#6b7280", weight: 3 * scale(), opacity: 0.95, fillOpacity: 0.12, dashArray: null,
              className: "incident-area incident-" + feature.properties.sev};
    },

    incidentEachFeature: function (feature, layer, context) {
      const p = feature.properties;
      const lang = (context && context.hideout && context.hideout.lang) || "zh_CN";
      layer.bindTooltip(textTooltip((lang === "en" ? p.en : p.zh) + " · " + p.n), {sticky: true});
    },

    regionEachFeature: function (feature, layer) {
      layer.bindTooltip(textTooltip(feature.properties.name), {sticky: true});
      layer.on("click", function () { drillTo("region", feature.properties.id); });
    },

    // Which device layers the wall shows: every one from `deviceZoom` in (a district and closer), at the city view
    // only those the operator turned on (the layer control's names → domains in `names`). Classes for .wall-main.
    devices: function (zoom, on, names, deviceZoom) {
      const shown = (on || []).map(function (name) { return names[name]; }).filter(Boolean);
      const overview = zoom !== undefined && zoom !== null && zoom < deviceZoom;
      return ["wall-main"].concat(overview ? ["overview"] : [], shown.map(function (d) { return "show-" + d; }))
        .join(" ");
    },

    // The wall's tour. A new red incident nobody has acknowledged (`pin`) holds it on its place for view.hold_ms,
    // once per incident and never sooner than hold_ms after the last hold ended, so a storm's stream of them holds
    // the wall half the time at most; then the tour goes on (back to the city first) while a red banner names what
    // waits until someone acknowledges it. Outputs: viewport, spotlight text and class, the tour's state, the banner.
    // The map moves with fitBounds, whose zoom Leaflet animates as one transform: flyToBounds redrew every layer's
    // markers at each frame of its flight, which held up the wall's news by a second and more on a slow machine.
    tour: function (pin, stops, view, now) {
      const noUpdate = window.dash_clientside.no_update;
      view = Object.assign({i: 0, pinned: null, since: 0, released: 0, held: [], hold_ms: 60000}, view || {});
      const banner = pin ? (pin.where ? pin.text + " · " + pin.where : pin.text) : "";
      const rested = view.pinned === null && now - view.released >= view.hold_ms;
      if (pin && view.held.indexOf(pin.id) < 0 && rested) {
        const viewport = pin.bounds ? {bounds: pin.bounds, transition: "fitBounds"} : noUpdate;
        const held = view.held.concat([pin.id]).slice(-100);
        return [viewport, pin.where || banner, "wall-spotlight spotlight-pin",
                Object.assign({}, view, {pinned: pin.id, since: now, held: held}), banner];
      }
      if (view.pinned !== null && now - view.since < view.hold_ms && pin && pin.id === view.pinned) {
        return [noUpdate, noUpdate, noUpdate, noUpdate, banner];
      }
      const triggered = window.dash_clientside.callback_context.triggered;
      const byRotation = triggered.some(function (t) { return t.prop_id.indexOf("wall-rotate") === 0; });
      // A hold that ended (on time, or acknowledged): back to the city. Otherwise only the rotation moves the wall.
      if (!stops || !stops.length || (!byRotation && view.pinned === null)) {
        return [noUpdate, noUpdate, noUpdate, noUpdate, banner];
      }
      const released = view.pinned !== null;
      const i = released ? 0 : (view.i + 1) % stops.length;
      const stop = stops[i];
      return [{bounds: stop.bounds, transition: "fitBounds"}, stop.name, "wall-spotlight",
              Object.assign({}, view, {i: i, pinned: null}, released ? {released: now} : {}), banner];
    },

    // The wall's districts: a click drills down, and each is named on the map where its name fits inside it
    // without covering another's (placeLabels); the rest are named when the tour comes closer.
    districtEachFeature: function (feature, layer) {
      layer.on("click", function () { drillTo("region", feature.properties.id); });
      layer.bindTooltip(textTooltip(feature.properties.name),
                        {permanent: true, direction: "center", className: "district-label", opacity: 1});
      layer.on("add", function () {
        const map = layer._map;
        if (map && !map._cityopsLabels) {
          map._cityopsLabels = true;
          map.on("zoomend moveend resize", function () { placeLabels(map); });
        }
        window.clearTimeout(placeLabels.timer);
        placeLabels.timer = window.setTimeout(function () { if (layer._map) placeLabels(layer._map); }, 50);
      });
    },

    regionStyle: function (feature, context) {
      const codes = (context.hideout && context.hideout.status) || {};
      const s = codes[feature.properties.id] || "n";
      return {
        fillColor: COLOURS[s],
        fillOpacity: s === "k" ? 0.12 : s === "n" ? 0.35 : 0.3,
        color: "#8b98a9",
        weight: 1.2,
        dashArray: s === "n" ? "4 4" : null,
        className: "region region-" + s,
      };
    },
  };
})();

/* A small map (.minimap) framed by `viewport` bounds is fitted by dash-leaflet as it mounts, before the page has laid
   it out: it then opened at the wrong zoom (the tablet showed its district as a speck). Each small map is fitted
   again to the bounds it was last asked for whenever its size changes, until someone moves it. */
(function refitSmallMaps() {
  if (!window.L || !window.L.Map) {
    setTimeout(refitSmallMaps, 20);
    return;
  }
  if (L.Map.cityopsRefit) return;
  L.Map.cityopsRefit = true;
  L.Map.addInitHook(function () {
    const map = this, el = map.getContainer(), fit = map.fitBounds;
    if (!el.classList.contains("minimap") || typeof ResizeObserver === "undefined") return;
    let wanted = null, moved = false;
    map.fitBounds = function (bounds, options) { wanted = [bounds, options]; return fit.call(map, bounds, options); };
    ["mousedown", "touchstart", "wheel", "keydown"].forEach(function (name) {
      el.addEventListener(name, function () { moved = true; }, {passive: true});
    });
    new ResizeObserver(function () {
      map.invalidateSize({pan: false});
      if (wanted && !moved && el.clientWidth > 0 && el.clientHeight > 0) fit.apply(map, wanted);
    }).observe(el);
  });
})();
