/* The results pages' enhancements: live figures, sortable tables, the embargo's countdown.
   Our own code, no library. The page works without it: every figure is in the HTML as served. */
(function () {
  "use strict";
  var NNBSP = "\u202f"; // the thousands separator and the space before "%" of the server's French figures
  var MINUS = "\u2212";
  var POLL_MS = 5000;

  // --- formatting: the same as api/web/pages.py -------------------------------------------------------------
  var formats = {};
  function decimal(lang, value, digits) {
    var key = String(digits);
    formats[key] = formats[key] || new Intl.NumberFormat("en-US", {
      minimumFractionDigits: digits, maximumFractionDigits: digits
    });
    var fr = lang === "fr";
    return formats[key].formatToParts(value).map(function (part) {
      if (part.type === "group") return fr ? NNBSP : ",";
      if (part.type === "decimal") return fr ? "," : ".";
      if (part.type === "minusSign") return MINUS;
      return part.value;
    }).join("");
  }
  function number(lang, value) {
    return value === null || value === undefined ? "—" : decimal(lang, value, 0);
  }
  function percent(lang, value, signed) {
    if (value === null || value === undefined) return "—";
    var sign = signed ? (value > 0 ? "+" : value < 0 ? MINUS : "") : "";
    var text = decimal(lang, signed ? Math.abs(value) : value, 2);
    return sign + text + (lang === "fr" ? NNBSP + "%" : "%");
  }
  var clockFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Paris", hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  function clock(iso) {
    if (!iso) return "—";
    var parts = {};
    clockFormat.formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.hour + ":" + parts.minute;
  }
  var dayFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Paris", day: "2-digit", month: "2-digit", year: "numeric"
  });
  function day(iso) {
    var parts = {};
    dayFormat.formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    return parts.day + "/" + parts.month + "/" + parts.year;
  }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  // --- live figures -------------------------------------------------------------------------------------
  function setText(scope, selector, text) {
    var found = scope.querySelector(selector);
    if (found && found.textContent !== text) found.textContent = text;
    return found;
  }

  // Hours alone when the data was cut and published on the same day, else with the dates (as pages.py).
  function asOfLine(doc, words) {
    if (!doc.as_of) return words.no_data;
    var values = { as_of: clock(doc.as_of), published_at: clock(doc.published_at) };
    if (!doc.published_at || day(doc.as_of) === day(doc.published_at)) return fill(words.as_of, values);
    values.as_of_date = day(doc.as_of);
    values.published_date = day(doc.published_at);
    return fill(words.as_of_dated, values);
  }

  function update(block, doc, words) {
    var lang = block.dataset.lang;
    var results = doc.results;
    block.dataset.sequence = String(doc.sequence);
    setText(block, '[data-field="as_of_line"]', asOfLine(doc, words));
    var status = setText(block, '[data-field="status"]', words[doc.status] || doc.status);
    if (status) status.dataset.status = doc.status;
    var banner = block.querySelector('[data-field="test"]');
    if (banner) banner.hidden = !doc.test;
    results.candidates.forEach(function (c) {
      var row = block.querySelector('[data-candidate="' + c.id + '"]');
      if (!row) return;
      setText(row, '[data-field="pct_valid"]', percent(lang, c.pct_valid));
      setText(row, '[data-field="votes"]', number(lang, c.votes));
      var bar = row.querySelector('[data-field="bar"]');
      if (bar) bar.style.width = (c.pct_valid || 0) + "%";
    });
    ["voters", "blank", "null", "bureaux_reported", "bureaux_total"].forEach(function (field) {
      setText(block, '[data-field="' + field + '"]', number(lang, results[field]));
    });
    ["blank_pct_voters", "null_pct_voters"].forEach(function (field) {
      setText(block, '[data-field="' + field + '"]', percent(lang, results[field]));
    });
    var progress = block.querySelector('[data-field="bureaux_progress"]');
    if (progress) {
      progress.max = results.bureaux_total || 1;
      progress.value = results.bureaux_reported;
      progress.textContent = percent(lang, results.bureaux_reported_pct);
    }
    var change = results.voters_change && results.voters_change.like_for_like;
    if (change) {
      setText(block, '[data-field="voters_change"]', change.change_pct === null ? "—" : fill(
        agreeing(words, "change_text", change.matched_bureaux, lang),
        { change: percent(lang, change.change_pct, true), matched: number(lang, change.matched_bureaux) }
      ));
    }
    updateChildren(document.getElementById("children"), doc.children, lang);
  }

  // A sentence whose noun agrees with a count: French puts 0 and 1 in the singular, English only 1
  // (pages.takes_singular).
  function agreeing(words, key, count, lang) {
    var one = lang === "fr" ? count <= 1 : count === 1;
    return one ? words[key + "_one"] : words[key];
  }

  // Said once by screen readers (role=status is polite), and shown: the page has just moved on.
  function announce(block, doc, words) {
    var lang = block.dataset.lang, results = doc.results;
    setText(block, '[data-field="live"]', fill(agreeing(words, "updated", results.bureaux_reported, lang), {
      time: clock(doc.published_at), reported: number(lang, results.bureaux_reported),
      total: number(lang, results.bureaux_total)
    }));
    block.classList.remove("updated");
    void block.offsetWidth; // restart the cue's animation
    block.classList.add("updated");
  }

  // --- the national page's evening chart and turnout, from the timeline and turnout documents ------------
  var SVG = "http://www.w3.org/2000/svg";
  var CHART = { height: 240, left: 40, top: 10, bottom: 30, right: 10, points: 60, tickRoom: 60 };

  function node(name, attributes, text) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) { element.setAttribute(key, attributes[key]); });
    if (text !== undefined) element.textContent = text;
    return element;
  }
  function halfEven(value) { // Python's round(), which picks the rows pages.py shows
    var rounded = Math.round(value);
    return Math.abs(value % 1) === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded;
  }
  // The publications that carry results, thinned to CHART.points evenly spread (as pages._evening).
  function withResults(timeline) {
    return timeline.filter(function (row) { return row.valid > 0 && row.as_of; });
  }
  function chartRows(timeline) {
    var rows = withResults(timeline);
    if (rows.length <= CHART.points) return rows;
    var step = (rows.length - 1) / (CHART.points - 1), kept = [];
    for (var i = 0; i < CHART.points; i++) kept.push(rows[halfEven(i * step)]);
    return kept;
  }
  // Drawn in the pixels it is shown in: its 12px text is 12px on screen at every width.
  function drawChart(figure, doc) {
    var rows = chartRows(doc.timeline);
    if (!rows.length) return;
    var old = figure.querySelector("svg");
    var width = Math.max(280, Math.round(figure.getBoundingClientRect().width)), height = CHART.height;
    var times = rows.map(function (row) { return Date.parse(row.as_of) / 1000; });
    var first = Math.min.apply(null, times), last = Math.max.apply(null, times);
    var span = width - CHART.left - CHART.right;
    function x(t) { return CHART.left + (last > first ? span * (t - first) / (last - first) : span / 2); }
    function y(pct) { return CHART.top + (height - CHART.top - CHART.bottom) * (1 - pct / 100); }
    function points(values) {
      return values.map(function (v, i) { return v === null ? null : x(times[i]).toFixed(1) + "," + y(v).toFixed(1); })
        .filter(function (p) { return p !== null; }).join(" ");
    }
    var svg = node("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img",
      "aria-labelledby": "chart-title chart-desc", focusable: "false" });
    ["title", "desc"].forEach(function (name) { svg.appendChild(old.querySelector(name).cloneNode(true)); });
    [0, 25, 50, 75, 100].forEach(function (pct) {
      svg.appendChild(node("line", { "class": "grid", x1: CHART.left, x2: width - CHART.right, y1: y(pct), y2: y(pct) }));
      svg.appendChild(node("text", { "class": "axis", x: CHART.left - 6, y: y(pct) + 4, "text-anchor": "end" }, String(pct)));
    });
    timeTicks(rows, times, x).forEach(function (tick) {
      svg.appendChild(node("text", { "class": "axis time", x: tick[0], y: height - 8, "text-anchor": tick[2] }, tick[1]));
    });
    var total = doc.bureaux_total || 1;
    svg.appendChild(node("polyline", { "class": "reported", points: points(rows.map(function (row) {
      return 100 * row.bureaux_reported / total;
    })) }));
    var colours = JSON.parse(figure.dataset.colours);
    drawBands(svg, figure, rows[rows.length - 1], colours, x, y, [first, last]);
    rows[rows.length - 1].candidates.forEach(function (candidate, c) {
      svg.appendChild(node("polyline", { "class": "line", stroke: colours[candidate.id], points: points(
        rows.map(function (row) { return row.candidates[c].pct_valid; })) }));
      if (candidate.pct_valid !== null) {
        svg.appendChild(node("circle", { cx: x(times[times.length - 1]).toFixed(1),
          cy: y(candidate.pct_valid).toFixed(1), r: 4, fill: colours[candidate.id] }));
      }
    });
    figure.replaceChild(svg, old);
  }
  // A round whose projection is public: the nation's estimate over the evening (figure.band, the
  // …/projection/timeline document), a band of its 90 % interval around each of the first two's curves.
  function drawBands(svg, figure, latestRow, colours, x, y, span) {
    var points = ((figure.band || {}).timeline || []).filter(function (point) {
      var t = Date.parse(point.as_of) / 1000;
      return t >= span[0] && t <= span[1];
    });
    var legend = figure.querySelector('[data-field="band_legend"]');
    if (legend) legend.hidden = points.length < 2;
    if (points.length < 2) return;
    var first = latestRow.candidates.slice().sort(function (a, b) { return (b.pct_valid || 0) - (a.pct_valid || 0); });
    first.slice(0, 2).forEach(function (candidate) {
      var edges = points.map(function (point) {
        var t = x(Date.parse(point.as_of) / 1000).toFixed(1);
        var found = point.projection.candidates.filter(function (c) { return c.id === candidate.id; })[0];
        return [t + "," + y(found.pct_valid_high).toFixed(1), t + "," + y(found.pct_valid_low).toFixed(1)];
      });
      var outline = edges.map(function (e) { return e[0]; }).concat(edges.map(function (e) { return e[1]; }).reverse());
      svg.appendChild(node("polygon", { "class": "band", fill: colours[candidate.id], points: outline.join(" ") }));
    });
  }
  // The band's document, when the chart has one (null when there is none, or it was withdrawn).
  function fetchBand(figure) {
    if (!figure || !figure.dataset.band) return Promise.resolve(null);
    return fetchDocument(figure.dataset.band).catch(function () { return null; });
  }

  // The first time, the last, and the one nearest the middle if it has room (as pages._time_ticks).
  function timeTicks(rows, times, x) {
    var labels = {};
    times.forEach(function (t, i) { labels[Math.round(x(t))] = clock(rows[i].as_of); });
    var xs = Object.keys(labels).map(Number).sort(function (a, b) { return a - b; });
    if (xs.length === 1) return [[xs[0], labels[xs[0]], "middle"]];
    var firstX = xs[0], lastX = xs[xs.length - 1], ticks = [[firstX, labels[firstX], "start"]];
    var inner = xs.slice(1, -1), centre = (firstX + lastX) / 2, middle = null;
    inner.forEach(function (at) { if (middle === null || Math.abs(at - centre) < Math.abs(middle - centre)) middle = at; });
    if (middle !== null && firstX + CHART.tickRoom <= middle && middle <= lastX - CHART.tickRoom) {
      ticks.push([middle, labels[middle], "middle"]);
    }
    ticks.push([lastX, labels[lastX], "end"]);
    return ticks;
  }

  function cells(row, values, header) {
    values.forEach(function (value, i) {
      var cell = document.createElement(i === 0 && header ? "th" : "td");
      if (i === 0 && header) cell.scope = "row";
      else cell.className = "num";
      if (value instanceof Node) cell.appendChild(value); else cell.textContent = value;
      row.appendChild(cell);
    });
    return row;
  }
  function fillBody(table, rows) {
    var body = table.tBodies[0];
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function updateEvening(doc, lang, words) {
    var section = document.getElementById("evening");
    var rows = chartRows(doc.timeline), total = withResults(doc.timeline).length;
    if (!section || !rows.length) return;
    section.hidden = false;
    drawChart(section.querySelector(".chart"), doc);
    var table = document.getElementById("evening-table");
    // As the server writes it: the caption says when the table shows a sample of the publications.
    table.caption.textContent = words.chart_caption + (total > rows.length
      ? " " + fill(words.chart_sampled, { shown: rows.length, total: total }) : "");
    fillBody(table, rows.map(function (row) {
      var time = document.createElement("time");
      time.dateTime = row.as_of;
      time.textContent = clock(row.as_of);
      return cells(document.createElement("tr"), [time, number(lang, row.bureaux_reported)].concat(
        row.candidates.map(function (c) { return percent(lang, c.pct_valid); })), true);
    }));
  }

  function updateTurnout(doc, lang, words) {
    var section = document.getElementById("turnout-section");
    if (!section || !doc.checkpoints.length) return;
    section.hidden = false;
    fillBody(document.getElementById("turnout"), doc.checkpoints.map(function (checkpoint) {
      var lfl = checkpoint.like_for_like, row = document.createElement("tr");
      row.dataset.checkpoint = checkpoint.time;
      return cells(row, [
        checkpoint.time,
        number(lang, checkpoint.bureaux_reported) + "\u00a0/\u00a0" + number(lang, doc.area_bureaux_total),
        number(lang, checkpoint.voters),
        lfl && lfl.change_pct !== null ? fill(agreeing(words, "change_short", lfl.matched_bureaux, lang), {
          change: percent(lang, lfl.change_pct, true), matched: number(lang, lfl.matched_bureaux)
        }) : "—"
      ], true);
    }));
  }

  var CORRECTIONS_SHOWN = 100; // the latest, newest first (as pages.CORRECTIONS_SHOWN)

  // A correction's counts that changed, as "Votants 512 → 515" (as pages.changed_counts).
  function changedCounts(item, lang, words) {
    var before = item.previous || {}, after = item.counts;
    var figures = ["voters", "blank", "null", "valid"].map(function (key) {
      return [words[key], before[key], after[key]];
    });
    Object.keys(after.votes).forEach(function (id) {
      figures.push([nameOf(id), (before.votes || {})[id], after.votes[id]]);
    });
    return figures.filter(function (f) { return f[1] !== f[2]; }).map(function (f) {
      return f[0] + " " + number(lang, f[1]) + " → " + number(lang, f[2]);
    });
  }

  function correctionRow(item, lang, words) {
    var row = document.createElement("tr"), when = document.createElement("td"), time = document.createElement("time");
    time.dateTime = item.reported_at;
    time.textContent = clock(item.reported_at);
    when.appendChild(time);
    var bureau = document.createElement("th"), link = document.createElement("a");
    // The server gives a bureau's page path without its code, with the page's language.
    var url = new URL(document.querySelector(".block").dataset.bureaux, window.location.href);
    url.pathname += encodeURIComponent(item.bureau);
    bureau.scope = "row";
    link.href = url.pathname + url.search;
    link.textContent = item.name;
    bureau.appendChild(link);
    var changes = document.createElement("td");
    changedCounts(item, lang, words).forEach(function (text, i) {
      if (i) changes.appendChild(document.createElement("br"));
      changes.appendChild(document.createTextNode(text));
    });
    var reason = document.createElement("td");
    reason.textContent = item.reason || "";
    [when, bureau, changes, reason].forEach(function (cell) { row.appendChild(cell); });
    return row;
  }

  function updateCorrections(doc, lang, words) {
    var all = doc.corrections, shown = all.slice(-CORRECTIONS_SHOWN).reverse();
    document.getElementById("corrections-some").hidden = !shown.length;
    document.getElementById("corrections-none").hidden = shown.length > 0;
    var more = document.querySelector('[data-field="corrections_more"]');
    more.hidden = all.length <= shown.length;
    more.textContent = fill(words.corrections_more, { shown: shown.length, total: all.length });
    fillBody(document.getElementById("corrections"), shown.map(function (item) {
      return correctionRow(item, lang, words);
    }));
  }

  // The evening, the turnout and the corrections of the round, when the page shows them (the national page).
  // A document of the round as the server has it now (not the browser's copy); null unless it answers 200.
  function fetchDocument(url) {
    return fetch(url, { cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; });
  }

  function refreshExtras(round, sequence, lang, words) {
    var wanted = [["evening", "/timeline", updateEvening], ["turnout-section", "/turnout", updateTurnout],
      ["corrections-section", "/corrections", updateCorrections]];
    var chart = document.querySelector("#evening .chart"), band = fetchBand(chart);
    return Promise.all(wanted.filter(function (w) { return document.getElementById(w[0]); }).map(function (w) {
      return Promise.all([fetchDocument(round + w[1]), band]).then(function (found) {
        if (chart) chart.band = found[1];
        if (found[0] && found[0].sequence >= sequence) w[2](found[0], lang, words);
      });
    }));
  }

  // A candidate's name as the results block shows it.
  function nameOf(id) {
    var found = document.querySelector('.block li[data-candidate="' + CSS.escape(id) + '"] .name');
    return found ? found.textContent : id;
  }

  // The rows of a table from a document's rows (the area's children, or a level's feed), by code.
  function updateChildren(table, rows, lang) {
    if (!table) return;
    (rows || []).forEach(function (child) {
      var row = table.querySelector('tr[data-child="' + CSS.escape(child.code) + '"]');
      if (!row) return;
      var reported = setText(row, '[data-field="bureaux_reported"]', number(lang, child.bureaux_reported));
      if (reported) reported.parentNode.dataset.sort = child.bureaux_reported;
      var voters = setText(row, '[data-field="voters"]', number(lang, child.voters));
      if (voters) voters.dataset.sort = child.voters;
      child.candidates.forEach(function (c) {
        if (child.leader === c.id) setText(row, '[data-field="leader"]', nameOf(c.id) + " " + percent(lang, c.pct_valid));
        var cell = setText(row, '[data-candidate="' + c.id + '"][data-field="pct_valid"]', percent(lang, c.pct_valid));
        if (!cell) return;
        cell.dataset.sort = c.pct_valid === null ? -1 : c.pct_valid;
        cell.classList.toggle("leader", child.leader === c.id);
      });
    });
  }

  // A published file keeps the sequence that last changed it (api/static_publication.py): its figures are
  // still those of the latest sequence, whose time and status `current` gives.
  function latest(doc, current) {
    if (doc.sequence >= current.sequence) return doc;
    var shown = Object.assign({}, doc);
    ["sequence", "as_of", "published_at", "bureaux_reported", "status", "test"].forEach(function (key) {
      shown[key] = current[key];
    });
    return shown;
  }

  // The tables of another cut (a département's circonscriptions) and the map of the départements: each
  // from its level's feed within the area, once the area's own figures have moved to `sequence`.
  function refreshFeeds(block, resultsUrl, sequence, words) {
    var shown = {}; // level → the tables and the map it feeds: each feed fetched once
    Array.prototype.forEach.call(document.querySelectorAll("table[data-feed], figure.map[data-feed]"), function (el) {
      (shown[el.dataset.feed] = shown[el.dataset.feed] || []).push(el);
    });
    return Promise.all(Object.keys(shown).map(function (level) {
      return fetchDocument(resultsUrl + "/" + encodeURIComponent(level))
        .then(function (feed) {
          if (!feed || feed.sequence < sequence) return;
          shown[level].forEach(function (el) {
            if (el.tagName === "TABLE") updateChildren(el, feed.areas, block.dataset.lang);
            else updateMap(el, feed.areas, block.dataset.lang, words);
          });
        });
    }));
  }

  // The map's shapes from the same feed as its table: the leader's colour (as the server wrote them on
  // the map), shaded by the lead's margin (its steps are on the map too), grey before any count.
  function updateMap(figure, areas, lang, words) {
    var colours = JSON.parse(figure.dataset.colours), shades = JSON.parse(figure.dataset.shades);
    areas.forEach(function (area) {
      var link = figure.querySelector('a[data-code="' + CSS.escape(area.code) + '"]');
      if (!link) return;
      var counted = area.bureaux_reported > 0 && area.leader;
      var shares = area.candidates.map(function (c) { return c.pct_valid || 0; })
        .sort(function (a, b) { return b - a; });
      var margin = counted ? shares[0] - (shares.length > 1 ? shares[1] : 0) : 0;
      var step = shades.filter(function (s) { return s[0] === null || margin < s[0]; })[0];
      Array.prototype.forEach.call(link.querySelectorAll("path"), function (path) {
        path.setAttribute("fill", counted ? colours[area.leader] : figure.dataset.nothing);
        path.setAttribute("fill-opacity", counted ? step[1] : 1);
      });
      link.querySelector("title").textContent = counted ? fill(words.map_title, {
        name: area.name, leader: nameOf(area.leader), pct: percent(lang, shares[0]), margin: decimal(lang, margin, 2)
      }) : fill(words.map_nothing, { name: area.name });
    });
  }

  // A round whose projection is public: the estimate beside each counted share, labelled as one.
  function refreshProjection(block, sequence, words) {
    if (!block.dataset.projection) return null;
    return fetch(block.dataset.projection, { cache: "no-store" })
      .then(function (response) {
        if (response.status === 404) return { sequence: sequence, projection: null }; // turned off: withdrawn
        return response.ok ? response.json() : null;
      })
      .then(function (doc) { if (doc && doc.sequence >= sequence) showProjection(block, doc.projection, words); });
  }

  // As the server writes it (pages._read): none for an area where nothing is counted yet.
  function showProjection(block, found, words) {
    if (found && !found.bureaux_counted) found = null;
    var lang = block.dataset.lang, estimates = {};
    (found ? found.candidates : []).forEach(function (c) { estimates[c.id] = c; });
    Array.prototype.forEach.call(block.querySelectorAll("[data-candidate]"), function (row) {
      var cell = row.querySelector('[data-field="estimate"]'), c = estimates[row.dataset.candidate];
      if (!cell) return;
      cell.hidden = !c;
      cell.textContent = c ? fill(words.estimate, {
        pct: percent(lang, c.pct_valid), low: decimal(lang, c.pct_valid_low, 2), high: decimal(lang, c.pct_valid_high, 2)
      }) : "";
    });
    var note = block.querySelector('[data-field="estimate_note"]');
    if (!note) return;
    note.hidden = !found;
    note.textContent = found ? fill(agreeing(words, "estimate_note", found.bureaux_counted, lang), {
      counted: number(lang, found.bureaux_counted)
    }) : "";
  }

  function poll(block) {
    var words = JSON.parse(block.querySelector(".page-text").textContent);
    var round = block.dataset.api;
    var level = block.dataset.level;
    var resultsUrl = round + "/results" + (level === "national" ? "" :
      "/" + encodeURIComponent(level) + "/" + encodeURIComponent(block.dataset.code));
    var busy = false;

    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      // The ETag is the sequence shown: until the figures of a newer one are on the page, ask again.
      var etag = 'W/"' + block.dataset.sequence + '"';
      fetch(round + "/current", { headers: { "If-None-Match": etag }, cache: "no-store" })
        .then(function (response) {
          return response.status === 304 || !response.ok ? null : response.json();
        })
        .then(function (current) {
          if (!current || String(current.sequence) === block.dataset.sequence) return null;
          return fetch(resultsUrl, { cache: "no-store" }).then(function (response) {
            if (response.status === 403) { window.location.reload(); return null; } // embargoed again
            return response.ok ? response.json() : null;
          }).then(function (doc) { return doc && { current: current, doc: doc }; });
        })
        .then(function (found) {
          if (!found || found.doc.sequence < Number(block.dataset.sequence)) return null;
          var shown = latest(found.doc, found.current);
          update(block, shown, words);
          announce(block, shown, words);
          return Promise.all([
            refreshFeeds(block, resultsUrl, found.doc.sequence, words),
            refreshExtras(round, found.current.sequence, block.dataset.lang, words),
            refreshProjection(block, found.doc.sequence, words)
          ]);
        })
        .catch(function () { /* offline for a moment: the next tick tries again */ })
        .then(function () { busy = false; });
    }
    window.setInterval(tick, POLL_MS);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) tick(); });
  }

  // --- sortable tables ----------------------------------------------------------------------------------
  function sortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) button.appendChild(th.firstChild);
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var keyed = rows.map(function (row) {
          var cell = row.cells[column];
          var raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
          return { row: row, raw: raw, value: parseFloat(raw) };
        });
        var numeric = keyed.every(function (k) { return !isNaN(k.value) && isFinite(k.raw); });
        var lang = document.documentElement.lang;
        keyed.sort(function (a, b) {
          var order = numeric ? a.value - b.value : a.raw.localeCompare(b.raw, lang, { sensitivity: "base" });
          return ascending ? order : -order;
        });
        keyed.forEach(function (k) { body.appendChild(k.row); });
      });
    });
  }

  // --- the embargo's countdown --------------------------------------------------------------------------
  function countdown(element) {
    var units = element.dataset.units.split("|");
    var end = performance.now() + Number(element.dataset.countdown) * 1000;
    function show() {
      var left = Math.max(0, Math.round((end - performance.now()) / 1000));
      var hours = Math.floor(left / 3600), minutes = Math.floor(left % 3600 / 60), seconds = left % 60;
      var parts = hours ? [hours + " " + units[0]] : [];
      if (hours || minutes) parts.push((hours && minutes < 10 ? "0" : "") + minutes + " " + units[1]);
      parts.push((seconds < 10 ? "0" : "") + seconds + " " + units[2]);
      element.textContent = parts.join(" ");
      if (left <= 0) {
        window.clearInterval(timer);
        // A little spread so that every open page does not ask at the same instant.
        window.setTimeout(function () { window.location.reload(); }, 500 + Math.random() * 2000);
      }
    }
    var timer = window.setInterval(show, 1000);
    show();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
    var chart = document.querySelector("#evening:not([hidden]) .chart");
    if (chart && window.fetch) { // drawn again for the width it has, with the estimate's band if public
      Promise.all([fetchDocument(document.querySelector(".block").dataset.api + "/timeline"), fetchBand(chart)])
        .then(function (found) { chart.band = found[1]; if (found[0]) drawChart(chart, found[0]); })
        .catch(function () {});
    }
    var block = document.querySelector(".block[data-sequence]");
    if (block && window.fetch) poll(block);
    var timer = document.querySelector("[data-countdown]");
    if (timer) countdown(timer);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
