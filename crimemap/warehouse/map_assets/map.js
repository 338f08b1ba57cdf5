/* crimemap community map. Reads the data inlined in the page (the release's published,
 * privacy-safe layers) and draws it with MapLibre GL JS over the jurisdiction's own boundaries:
 * no tiles, no fonts, no request of any kind. Values reach the GPU as feature state, so changing
 * the month or the category restyles features without sending geometry again. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("crimemap-data").textContent);
  var K = DATA.min_cell_count;
  var SUPPRESSED = "suppressed (fewer than " + K + ")";
  // Colour-blind-safe scales (palettes.json, shared with the previews and the QGIS styles).
  var P = DATA.palettes;
  var SEQUENTIAL = P.sequential;
  var BINS = P.bins;
  var BIN_LABELS = P.bin_labels;
  var CATEGORICAL = P.categorical;
  var SUPPRESSED_COLOUR = P.suppressed;
  var NO_DATA_COLOUR = P.no_data;

  var $ = function (id) { return document.getElementById(id); };
  var state = { view: "rates", month: DATA.months.length - 1, category: null, facilityType: null };

  function fmt(value, digits) {
    if (value === null || value === undefined) { return "–"; }
    return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c];
    });
  }

  var areaNames = {};
  DATA.areas.features.forEach(function (f) { areaNames[f.properties.id] = f.properties.name; });

  // Seven classes holding about as many values each (quantiles over every month shown), so a
  // few extreme areas do not wash every other area into one colour.
  function quantileScale(values, reversed) {
    var colours = reversed ? SEQUENTIAL.slice().reverse() : SEQUENTIAL;
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    var n = colours.length;
    var breaks = [];
    for (var i = 0; i <= n; i++) { breaks.push(sorted.length ? sorted[Math.min(sorted.length - 1, Math.round(i * (sorted.length - 1) / n))] : 0); }
    return {
      colour: function (v) {
        var i = 0;
        while (i < n - 1 && v > breaks[i + 1]) { i++; }
        return colours[i];
      },
      classes: colours.map(function (c, i) { return [c, breaks[i], breaks[i + 1]]; })
    };
  }

  // --- the views: what each colours, how it explains itself, what its table lists --------------

  var VIEWS = {
    rates: {
      target: "areas", months: true, control: "category-control",
      reading: "Each area's offenses per 1,000 residents in the month, smoothed towards the " +
        "city's rate where an area has few residents (empirical Bayes), so a small area's one " +
        "incident does not look like a crisis. Darker is more.",
      build: function () {
        var byMonth = DATA.rates[state.category] || {};
        var all = [];
        Object.keys(byMonth).forEach(function (m) {
          Object.values(byMonth[m]).forEach(function (r) { if (r[1] !== null) { all.push(r[1]); } });
        });
        var scale = quantileScale(all);
        var month = byMonth[DATA.months[state.month]] || {};
        var rows = Object.keys(areaNames).map(function (id) {
          var r = month[id] || [null, null, false];
          return {
            id: id, name: areaNames[id], suppressed: r[2], value: r[1],
            cells: [r[2] ? SUPPRESSED : fmt(r[0], 0), r[2] ? SUPPRESSED : fmt(r[1], 2)]
          };
        });
        return {
          title: "Offenses per 1,000 residents (" + state.category + ", " + DATA.months[state.month] + ")",
          scale: scale, rows: rows, columns: ["Area", "Offenses", "Per 1,000 (smoothed)"],
          legend: legendClasses(scale, 2)
        };
      }
    },
    hotspots: {
      target: "cells", months: true,
      reading: "Grid cells where offenses cluster more (hot, red) or less (cold, blue) than " +
        "chance would give, by the Getis-Ord Gi* statistic with a false-discovery-rate " +
        "correction. Uncoloured cells are neither.",
      build: function () {
        var month = DATA.hotspots[DATA.months[state.month]] || {};
        var rows = Object.keys(month).map(function (id) {
          var r = month[id];
          return {
            id: id, name: "Cell " + id, colour: BINS[String(r[0])], value: r[0],
            cells: [BIN_LABELS[String(r[0])], r[2] ? SUPPRESSED : fmt(r[1], 0), fmt(r[3], 2)]
          };
        }).sort(function (a, b) { return b.value - a.value; });
        return {
          title: "Hot and cold spots (" + DATA.months[state.month] + ")", rows: rows,
          columns: ["Cell", "Finding", "Offenses", "Gi* z"],
          legend: ["3", "2", "1", "-1", "-2", "-3"].map(function (b) { return [BINS[b], BIN_LABELS[b]]; })
        };
      }
    },
    emerging: {
      target: "cells",
      reading: "How each cell's hot- or cold-spot status developed over the months (new, " +
        "intensifying, persistent, diminishing, sporadic...), from the trend of its Gi* series.",
      build: function () {
        var patterns = Array.from(new Set(Object.values(DATA.emerging))).sort();
        var colours = {};
        patterns.forEach(function (p, i) { colours[p] = CATEGORICAL[i % CATEGORICAL.length]; });
        var rows = Object.keys(DATA.emerging).map(function (id) {
          return { id: id, name: "Cell " + id, colour: colours[DATA.emerging[id]], cells: [DATA.emerging[id]] };
        });
        return {
          title: "Emerging hot-spot patterns", rows: rows, columns: ["Cell", "Pattern"],
          legend: patterns.map(function (p) { return [colours[p], p]; })
        };
      }
    },
    priority: {
      target: "areas",
      reading: "Where outreach should go first: a weighted index of person-crime and " +
        "mental-health-related rates, deprivation and the gap in service access. Darker is " +
        "higher need; the tooltip names the main drivers. Grey areas are not ranked.",
      build: function () {
        var ranked = Object.values(DATA.priority).filter(function (p) { return p.index !== null; });
        var values = ranked.map(function (p) { return p.index; });
        var scale = quantileScale(values);
        var rows = Object.keys(areaNames).map(function (id) {
          var p = DATA.priority[id] || {};
          return {
            id: id, name: areaNames[id], value: p.index === undefined ? null : p.index,
            cells: [p.rank ? fmt(p.rank, 0) : "not ranked", fmt(p.index, 2),
              p.excluded ? p.excluded : (p.drivers || "")]
          };
        }).sort(function (a, b) { return (b.value === null ? -1e9 : b.value) - (a.value === null ? -1e9 : a.value); });
        return {
          title: "Need index", scale: scale, rows: rows,
          columns: ["Area", "Rank", "Need index", "Main drivers"], legend: legendClasses(scale, 2)
        };
      }
    },
    access: {
      target: "areas", control: "type-control",
      reading: "Access to the chosen type of service: the two-step floating catchment score " +
        "(facilities within reach, shared among the residents who can reach them). Darker is " +
        "less access: the service gap.",
      build: function () {
        var byArea = DATA.access[state.facilityType] || {};
        var values = Object.values(byArea).map(function (r) { return r[0]; }).filter(function (v) { return v !== null; });
        var scale = quantileScale(values, true);
        var rows = Object.keys(areaNames).map(function (id) {
          var r = byArea[id] || [null, null, null];
          return {
            id: id, name: areaNames[id], value: r[0],
            cells: [fmt(r[0] === null ? null : r[0] * 1000, 2), fmt(r[1] === null ? null : r[1] / 1000, 1), fmt(r[2], 2)]
          };
        }).sort(function (a, b) { return (a.value === null ? 1e9 : a.value) - (b.value === null ? 1e9 : b.value); });
        return {
          title: "Access to " + state.facilityType + " (per 1,000 residents)", scale: scale, rows: rows,
          columns: ["Area", "Access score (per 1,000)", "Nearest (km)", "Facilities per 10,000"],
          legend: legendClasses(scale, 3, 1000).reverse()
        };
      }
    }
  };

  function legendClasses(scale, digits, factor) {
    var f = factor || 1;
    return scale.classes.map(function (c) {
      return [c[0], fmt(c[1] * f, digits) + " – " + fmt(c[2] * f, digits)];
    });
  }

  // --- the map ---------------------------------------------------------------------------------

  var b = DATA.bounds;
  var map = new maplibregl.Map({
    container: "map",
    bounds: [[b[0], b[1]], [b[2], b[3]]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: false,
    style: {
      version: 8,
      sources: {
        areas: { type: "geojson", data: DATA.areas, promoteId: "id" },
        cells: { type: "geojson", data: DATA.cells, promoteId: "id" },
        facilities: { type: "geojson", data: DATA.facilities }
      },
      layers: [
        { id: "background", type: "background", paint: { "background-color": "#f4f4f1" } },
        { id: "areas-fill", type: "fill", source: "areas",
          paint: { "fill-color": ["coalesce", ["feature-state", "colour"], "#ffffff"], "fill-opacity": 0.85 } },
        { id: "cells-fill", type: "fill", source: "cells",
          paint: { "fill-color": ["coalesce", ["feature-state", "colour"], "rgba(0,0,0,0)"], "fill-opacity": 0.85 } },
        { id: "cells-line", type: "line", source: "cells",
          paint: { "line-color": "#bbbbbb", "line-width": 0.3 } },
        { id: "areas-line", type: "line", source: "areas",
          paint: { "line-color": "#555555", "line-width": 0.8 } },
        { id: "facilities", type: "circle", source: "facilities",
          paint: { "circle-radius": 5, "circle-color": facilityColours(), "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } }
      ]
    }
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }));

  function facilityColours() {
    var match = ["match", ["get", "type"]];
    DATA.facility_types.forEach(function (t, i) { match.push(t, CATEGORICAL[i % CATEGORICAL.length]); });
    if (!DATA.facility_types.length) { return "#333333"; }
    match.push("#333333");
    return match;
  }

  var current = null;
  function render() {
    var view = VIEWS[state.view];
    current = view.build();
    var scale = current.scale;
    var other = view.target === "areas" ? "cells" : "areas";
    map.removeFeatureState({ source: other });
    map.removeFeatureState({ source: view.target });
    current.rows.forEach(function (row) {
      var colour = row.colour;
      if (colour === undefined) {
        colour = row.suppressed ? SUPPRESSED_COLOUR : (row.value === null || row.value === undefined ? NO_DATA_COLOUR : scale.colour(row.value));
      }
      map.setFeatureState({ source: view.target, id: row.id }, { colour: colour });
    });
    map.setLayoutProperty("cells-line", "visibility", view.target === "cells" ? "visible" : "none");
    $("month-control").hidden = !view.months;
    $("category-control").hidden = view.control !== "category-control";
    $("type-control").hidden = view.control !== "type-control";
    $("month-label").textContent = DATA.months[state.month] || "";
    $("reading").textContent = view.reading;
    renderLegend();
    renderTable();
    document.documentElement.dataset.state = "rendering";
    map.once("idle", function () { document.documentElement.dataset.state = "ready"; });
    map.triggerRepaint();
  }

  function renderLegend() {
    var html = "<div class=title>" + esc(current.title) + "</div>";
    current.legend.forEach(function (entry) {
      html += "<div class=row><span class=swatch style=\"background:" + entry[0] + "\"></span>" + esc(entry[1]) + "</div>";
    });
    if (VIEWS[state.view].target === "areas") {
      html += "<div class=row><span class=swatch style=\"background:" + SUPPRESSED_COLOUR + "\"></span>" + esc(SUPPRESSED) + "</div>";
      html += "<div class=row><span class=swatch style=\"background:" + NO_DATA_COLOUR + "\"></span>no value</div>";
    }
    if ($("show-facilities").checked) {
      DATA.facility_types.forEach(function (t, i) {
        html += "<div class=row><span class=swatch style=\"border-radius:50%;background:" + CATEGORICAL[i % CATEGORICAL.length] + "\"></span>" + esc(t) + " (facility)</div>";
      });
    }
    $("legend").innerHTML = html;
  }

  function renderTable() {
    var html = "<table><caption>" + esc(current.title) + "</caption><thead><tr>";
    current.columns.forEach(function (c) { html += "<th scope=col>" + esc(c) + "</th>"; });
    html += "</tr></thead><tbody>";
    current.rows.forEach(function (row) {
      html += "<tr><th scope=row>" + esc(row.name) + "</th>";
      row.cells.forEach(function (c) { html += "<td class=number>" + esc(c) + "</td>"; });
      html += "</tr>";
    });
    $("table").innerHTML = html + "</tbody></table>";
  }

  // --- tooltips ---------------------------------------------------------------------------------

  var popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, maxWidth: "22rem" });
  function showTip(event) {
    var view = VIEWS[state.view];
    var feature = event.features && event.features[0];
    if (!feature || !current) { return; }
    var id = feature.properties.id;
    var row = current.rows.find(function (r) { return r.id === id; });
    var html = "<strong>" + esc(areaNames[id] || ("Cell " + id)) + "</strong>";
    if (row) {
      current.columns.slice(1).forEach(function (c, i) { html += "<br>" + esc(c) + ": " + esc(row.cells[i]); });
    } else {
      html += "<br>" + (view.target === "cells" ? "no finding" : "no value");
    }
    popup.setLngLat(event.lngLat).setHTML(html).addTo(map);
  }
  ["areas-fill", "cells-fill"].forEach(function (layer) {
    map.on("mousemove", layer, function (e) { if (VIEWS[state.view].target + "-fill" === layer) { showTip(e); } });
    map.on("click", layer, function (e) { if (VIEWS[state.view].target + "-fill" === layer) { showTip(e); } });
    map.on("mouseleave", layer, function () { popup.remove(); });
  });
  map.on("click", "facilities", function (e) {
    var p = e.features[0].properties;
    popup.setLngLat(e.lngLat).setHTML("<strong>" + esc(p.name) + "</strong><br>" + esc(p.type)).addTo(map);
  });

  // --- controls ---------------------------------------------------------------------------------

  function fill(select, values) {
    values.forEach(function (v) { var o = document.createElement("option"); o.value = o.textContent = v; select.appendChild(o); });
  }
  fill($("category"), DATA.categories);
  fill($("facility-type"), DATA.access_types);
  state.category = DATA.categories.indexOf("all") >= 0 ? "all" : DATA.categories[0];
  state.facilityType = DATA.access_types.indexOf("all") >= 0 ? "all" : DATA.access_types[0];
  $("facility-type").value = state.facilityType;
  $("category").value = state.category;
  $("month").max = String(Math.max(0, DATA.months.length - 1));
  $("month").value = String(state.month);
  $("release").textContent = "Release " + DATA.release + " · published " + DATA.created_at.slice(0, 10);
  var terms = DATA.terms || {};
  $("credits").textContent = "Data: " + (terms.attribution || DATA.title) +
    (terms.licence ? " · licence " + terms.licence : "") +
    (terms.contact ? " · contact " + terms.contact : "") +
    " · crimemap release " + DATA.release +
    ". Map drawn with MapLibre GL JS (BSD-3-Clause), offline from the city's own boundaries.";

  document.querySelectorAll("input[name=view]").forEach(function (input) {
    input.addEventListener("change", function () { state.view = input.value; render(); });
  });
  $("category").addEventListener("change", function (e) { state.category = e.target.value; render(); });
  $("facility-type").addEventListener("change", function (e) { state.facilityType = e.target.value; render(); });
  $("month").addEventListener("input", function (e) { state.month = Number(e.target.value); render(); });
  $("show-facilities").addEventListener("change", function (e) {
    map.setLayoutProperty("facilities", "visibility", e.target.checked ? "visible" : "none");
    renderLegend();
  });
  $("table-toggle").addEventListener("click", function () {
    var table = $("table");
    table.hidden = !table.hidden;
    $("table-toggle").setAttribute("aria-expanded", String(!table.hidden));
    $("table-toggle").textContent = table.hidden ? "Show as a table" : "Hide the table";
  });

  map.on("load", function () {
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]], { padding: 20, animate: false });
    render();
  });
  window.crimemap = {
    map: map,
    data: DATA,
    show: function (view) { state.view = view; document.querySelector("input[value=" + view + "]").checked = true; render(); }
  };
})();
