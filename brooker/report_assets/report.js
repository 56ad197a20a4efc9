/* brooker review page: filters, sorting, keyboard review, verdicts kept in localStorage,
   review.csv export and import. No network: everything is in this file. */
(function () {
  "use strict";
  var CLASSES = ["0", "I", "II", "III", "IV"];
  var meta = JSON.parse(document.getElementById("brooker-meta").textContent);
  var COLUMNS = meta.columns;
  var STORE_KEY = "brooker-review:v1:" + meta.report_id;
  var main = document.getElementById("cards");
  var cards = Array.prototype.slice.call(main.querySelectorAll("article.card"));
  var $ = function (id) { return document.getElementById(id); };
  var fClass = $("f-class"), fBorder = $("f-borderline"), fWeak = $("f-weak");
  var fNotGraded = $("f-notgraded");
  var fPros = $("f-prosthesis"), fUnrev = $("f-unreviewed"), fName = $("f-name"), fSort = $("f-sort");
  var current = null, currentHip = 0;
  /* the verdict the last key gave ({row, before: the hip's verdict before it}), until another
     key, a click, or a filter or the order changes: what Backspace takes back */
  var lastMarked = null;

  /* ---- verdict storage ---------------------------------------------------------------- */
  var store = null;
  try { store = window.localStorage; store.getItem(STORE_KEY); } catch (e) { store = null; }
  var verdicts = {};
  if (store) {
    try { verdicts = JSON.parse(store.getItem(STORE_KEY) || "{}") || {}; } catch (e) { verdicts = {}; }
  } else {
    $("storage-warning").hidden = false;
  }
  function save() {
    if (!store) { return; }
    try { store.setItem(STORE_KEY, JSON.stringify(verdicts)); }
    catch (e) { $("storage-warning").hidden = false; }
  }
  function hipRows(card) { return Array.prototype.slice.call(card.querySelectorAll("tr.hip")); }
  function cardOf(el) { return el.closest("article.card"); }
  function hipKey(row) { return cardOf(row).dataset.key + "|" + row.dataset.side; }
  function verdictOf(row) { return verdicts[hipKey(row)] || null; }
  function reviewed(row) { var v = verdictOf(row); return !!(v && v.reader); }

  function render(row) {
    var v = verdictOf(row), tool = row.dataset.cls;
    var buttons = row.querySelectorAll(".review button[data-cls]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].classList.toggle("on", !!(v && v.reader && !v.agree && buttons[i].dataset.cls === v.reader));
    }
    row.querySelector(".review button.agree").classList.toggle("on", !!(v && v.agree));
    var label = row.querySelector(".verdict");
    label.className = "verdict";
    if (v && v.reader) {
      var same = v.reader === tool;
      label.classList.add(same ? "agree" : "differ");
      label.textContent = same ? "reader agrees" : "reader: " + v.reader;
    } else {
      label.textContent = "";
    }
    var note = row.querySelector("input.note");
    if (document.activeElement !== note) { note.value = (v && v.note) || ""; }
  }
  function setVerdict(row, reader, agree) {
    var key = hipKey(row), old = verdicts[key] || {};
    verdicts[key] = { reader: reader, agree: agree, tool: row.dataset.cls, note: old.note || "",
      at: new Date().toISOString() };
    save(); render(row); progress();
  }
  function clearVerdict(row) {
    var key = hipKey(row), old = verdicts[key];
    if (old && old.note) { verdicts[key] = { reader: null, agree: false, tool: row.dataset.cls, note: old.note }; }
    else { delete verdicts[key]; }
    save(); render(row); progress();
  }
  function setNote(row, text) {
    var key = hipKey(row), v = verdicts[key] || { reader: null, agree: false, tool: row.dataset.cls };
    v.note = text;
    if (!v.reader && !text) { delete verdicts[key]; } else { verdicts[key] = v; }
    save();
  }
  /* an "agree" given for another tool class (the run was graded again) no longer holds */
  cards.forEach(function (card) {
    hipRows(card).forEach(function (row) {
      var v = verdictOf(row);
      if (v && v.agree && v.tool !== row.dataset.cls) { delete verdicts[hipKey(row)]; }
      render(row);
    });
  });

  function progress() {
    var n = 0, done = 0, differ = 0;
    cards.forEach(function (card) {
      hipRows(card).forEach(function (row) {
        n++;
        var v = verdictOf(row);
        if (v && v.reader) { done++; if (v.reader !== row.dataset.cls) { differ++; } }
      });
    });
    $("progress").textContent = "reviewed " + done + " of " + n + " hips" +
      (differ ? ", " + differ + " with another class" : "");
  }

  /* ---- filters and sorting ------------------------------------------------------------ */
  function applyFilters() {
    lastMarked = null;
    var cls = fClass.value, q = fName.value.trim().toLowerCase(), shown = 0;
    cards.forEach(function (card) {
      var d = card.dataset, ok = true;
      if (cls && d.classes.split(" ").indexOf(cls) < 0) { ok = false; }
      if (ok && fBorder.checked && d.borderline !== "1") { ok = false; }
      if (ok && fWeak.checked && d.weak !== "1") { ok = false; }
      if (ok && fNotGraded.checked && d.notgraded !== "1") { ok = false; }
      if (ok && fPros.checked && d.prosthesis !== "1") { ok = false; }
      if (ok && fUnrev.checked && !hipRows(card).some(function (r) { return !reviewed(r); })) { ok = false; }
      if (ok && q && d.file.toLowerCase().indexOf(q) < 0) { ok = false; }
      card.hidden = !ok;
      if (ok) { shown++; }
    });
    $("shown").textContent = "showing " + shown + " of " + cards.length + " films";
    if (current && current.hidden) { setCurrent(visible()[0] || null, 0, false); }
  }
  function num(s, dflt) { return s === "" || s === undefined ? dflt : parseFloat(s); }
  function applySort() {
    lastMarked = null;
    var how = fSort.value, sorted = cards.slice();
    var byIndex = function (a, b) { return a.dataset.i - b.dataset.i; };
    var cmp = {
      run: byIndex,
      file: function (a, b) { return a.dataset.file < b.dataset.file ? -1 : a.dataset.file > b.dataset.file ? 1 : 0; },
      "class-desc": function (a, b) { return (num(b.dataset.max, -1) - num(a.dataset.max, -1)) || byIndex(a, b); },
      "class-asc": function (a, b) { return (num(a.dataset.max, 9) - num(b.dataset.max, 9)) || byIndex(a, b); },
      gap: function (a, b) { return (num(a.dataset.mingap, 1e9) - num(b.dataset.mingap, 1e9)) || byIndex(a, b); }
    }[how] || byIndex;
    sorted.sort(cmp);
    var frag = document.createDocumentFragment();
    sorted.forEach(function (c) { frag.appendChild(c); });
    main.appendChild(frag);
  }
  [fClass, fBorder, fWeak, fNotGraded, fPros, fUnrev].forEach(function (el) { el.addEventListener("change", applyFilters); });
  fName.addEventListener("input", applyFilters);
  fSort.addEventListener("change", applySort);

  /* ---- current film and hip ------------------------------------------------------------ */
  function visible() { return Array.prototype.slice.call(main.querySelectorAll("article.card:not([hidden])")); }
  function setCurrent(card, hip, scroll) {
    if (current) {
      current.classList.remove("current");
      hipRows(current).forEach(function (r) { r.classList.remove("current"); });
    }
    current = card; currentHip = hip || 0;
    if (!card) { return; }
    card.classList.add("current");
    var rows = hipRows(card);
    if (rows.length) {
      currentHip = Math.max(0, Math.min(currentHip, rows.length - 1));
      rows[currentHip].classList.add("current");
    }
    if (scroll !== false) { card.scrollIntoView({ block: "nearest" }); }
  }
  /* a hip the filters ask for: a film shown for its not-graded hip (or its weak call...) takes
     its reader to that hip, not to the other one, when stepped to or moved on to */
  function hipMatches(row) {
    var d = row.dataset, cls = fClass.value;
    if (cls && d.cls !== cls) { return false; }
    if (fBorder.checked && d.borderline !== "1") { return false; }
    if (fWeak.checked && d.weak !== "1") { return false; }
    if (fNotGraded.checked && d.cls) { return false; }
    if (fPros.checked && d.prosthesis !== "1") { return false; }
    if (fUnrev.checked && reviewed(row)) { return false; }
    return true;
  }
  function firstMatch(card) {
    var rows = hipRows(card);
    for (var i = 0; i < rows.length; i++) { if (hipMatches(rows[i])) { return i; } }
    return 0;
  }
  function step(delta) {
    var vis = visible();
    if (!vis.length) { return; }
    var i = current ? vis.indexOf(current) : -1;
    var j = i < 0 ? (delta > 0 ? 0 : vis.length - 1) : Math.max(0, Math.min(vis.length - 1, i + delta));
    setCurrent(vis[j], firstMatch(vis[j]));
  }
  function stepHip(delta) {
    if (!current) { step(1); return; }
    var rows = hipRows(current);
    if (rows.length) { setCurrent(current, (currentHip + delta + rows.length) % rows.length); }
  }
  function currentRow() {
    if (!current) { return null; }
    return hipRows(current)[currentHip] || null;
  }
  function advance() {
    var rows = hipRows(current);
    for (var k = 1; k <= rows.length; k++) {
      var j = currentHip + k;
      if (j < rows.length && !reviewed(rows[j]) && hipMatches(rows[j])) { setCurrent(current, j); return; }
    }
    step(1);
    if (fUnrev.checked) { applyFilters(); }
  }

  /* a verdict given by a key, the reader moved on; undo() takes it back */
  function mark(row, reader, agree) {
    var key = hipKey(row), before = verdicts[key] ? JSON.parse(JSON.stringify(verdicts[key])) : null;
    setVerdict(row, reader, agree);
    advance();
    lastMarked = { row: row, before: before };
  }
  function undo(marked) {
    var row = marked.row, key = hipKey(row);
    if (marked.before) { verdicts[key] = marked.before; } else { delete verdicts[key]; }
    save(); render(row); progress();
    if (fUnrev.checked) { applyFilters(); }  /* its film shows again */
    var card = cardOf(row);
    if (!card.hidden) { setCurrent(card, hipRows(card).indexOf(row)); }
  }

  /* ---- full-size overlay ------------------------------------------------------------------ */
  var box = $("lightbox"), boxImg = box.querySelector("img");
  var boxCaption = box.querySelector(".caption");
  function openFull(card) {
    var a = card && card.querySelector("a.thumb");
    if (!a) { closeFull(); return; }
    var thumb = a.querySelector("img");
    boxImg.onerror = function () { boxImg.onerror = null; boxImg.src = thumb.src; };
    boxImg.src = a.getAttribute("href");
    box.hidden = false;
    caption();
  }
  function closeFull() { box.hidden = true; boxImg.removeAttribute("src"); }
  /* the film and its hips under the full-size overlay, so that review keys work there too */
  function caption() {
    if (!current) { boxCaption.textContent = ""; return; }
    var parts = hipRows(current).map(function (row, i) {
      var v = verdictOf(row), txt = row.dataset.side[0].toUpperCase() + " " + (row.dataset.cls || "not graded");
      if (v && v.reader) { txt += v.reader === row.dataset.cls ? " (agreed)" : " (reader: " + v.reader + ")"; }
      return i === currentHip ? "[" + txt + "]" : txt;
    });
    boxCaption.textContent = current.dataset.file + (parts.length ? " \u2014 " + parts.join(" \u00b7 ") : "");
  }
  box.addEventListener("click", closeFull);

  /* ---- mouse ------------------------------------------------------------------------------ */
  main.addEventListener("click", function (ev) {
    lastMarked = null;
    var card = cardOf(ev.target);
    if (!card) { return; }
    var row = ev.target.closest("tr.hip");
    setCurrent(card, row ? hipRows(card).indexOf(row) : currentHip, false);
    var a = ev.target.closest("a.thumb");
    if (a) { ev.preventDefault(); openFull(card); return; }
    var b = ev.target.closest(".review button");
    if (!b || !row) { return; }
    if (b.classList.contains("agree")) { if (row.dataset.cls) { setVerdict(row, row.dataset.cls, true); } }
    else if (b.classList.contains("clear")) { clearVerdict(row); }
    else if (b.dataset.cls) { setVerdict(row, b.dataset.cls, b.dataset.cls === row.dataset.cls); }
  });
  main.addEventListener("input", function (ev) {
    if (ev.target.matches("input.note")) { setNote(ev.target.closest("tr.hip"), ev.target.value); }
  });

  /* ---- keyboard ---------------------------------------------------------------------------- */
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var t = ev.target, k = ev.key;
    /* text fields and menus keep their keys; a checkbox or button just clicked does not */
    if (t.matches && t.matches("input[type=text], input[type=search], input:not([type]), select, textarea")) {
      if ((k === "Enter" || k === "Escape") && t.matches("input.note")) {
        t.blur(); ev.preventDefault();
      }
      return;
    }
    if ((k === "Enter" || k === " ") && t.matches && t.matches("button, input, a")) { return; }
    var inBox = !box.hidden, before = current;
    if (inBox && (k === "Escape" || k === "o")) { closeFull(); ev.preventDefault(); return; }
    if (inBox && k === "n") { closeFull(); }
    var row = currentRow(), handled = true, justMarked = lastMarked;
    lastMarked = null;
    if (k === "j" || k === "ArrowDown") { step(1); }
    else if (k === "k" || k === "ArrowUp") { step(-1); }
    else if (k === "ArrowRight") { stepHip(1); }
    else if (k === "ArrowLeft") { stepHip(-1); }
    else if ((k === "a" || k === "Enter") && row) {
      if (row.dataset.cls) { mark(row, row.dataset.cls, true); } /* nothing to agree with */
    }
    else if (/^[0-4]$/.test(k) && row) {
      mark(row, CLASSES[+k], CLASSES[+k] === row.dataset.cls);
    }
    else if ((k === "Backspace" || k === "Delete") && justMarked && document.contains(justMarked.row)) {
      /* right after a verdict key, which moved the reader on: that verdict taken back (the
         hip's verdict before it restored) and the reader back on its hip, as an undo */
      undo(justMarked);
    }
    else if ((k === "Backspace" || k === "Delete") && row) { clearVerdict(row); }
    else if (k === "n" && row) { row.querySelector("input.note").focus(); }
    else if (k === "o") { if (current) { openFull(current); } else { handled = false; } }
    else if (k === "?") { $("help").hidden = !$("help").hidden; }
    else if (k === "Escape") { $("help").hidden = true; }
    else { handled = false; }
    if (handled) { ev.preventDefault(); }
    if (inBox && !box.hidden) { if (current !== before) { openFull(current); } else { caption(); } }
  });
  $("help-toggle").addEventListener("click", function () { $("help").hidden = !$("help").hidden; });

  /* ---- review.csv --------------------------------------------------------------------------- */
  function cell(v, text) {
    if (v === null || v === undefined) { return ""; }
    var s = String(v);
    if (text && /^[=+\-@\t\r]/.test(s)) { s = "'" + s; }
    if (/[",\r\n]/.test(s)) { s = '"' + s.replace(/"/g, '""') + '"'; }
    return s;
  }
  function reviewCsv() {
    var lines = [COLUMNS.join(",")];
    cards.slice().sort(function (a, b) { return a.dataset.i - b.dataset.i; }).forEach(function (card) {
      hipRows(card).forEach(function (row) {
        var v = verdictOf(row);
        if (!v || (!v.reader && !v.note)) { return; }
        var values = {
          file: [card.dataset.file, true], sop_instance_uid: [card.dataset.uid, true],
          side: [row.dataset.side, true], tool_class: [row.dataset.cls, true],
          reader_class: [v.reader || "", true], gap_mm: [row.dataset.gap, false],
          note: [v.note || "", true]
        };
        lines.push(COLUMNS.map(function (c) { return cell(values[c][0], values[c][1]); }).join(","));
      });
    });
    return lines.join("\r\n") + "\r\n";
  }
  $("export").addEventListener("click", function () {
    var blob = new Blob(["\ufeff" + reviewCsv()], { type: "text/csv;charset=utf-8" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "review.csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 2000);
  });
  // ',' ';' or tab: the one that splits the header line into the most cells (a tie: ','), as
  // `brooker agreement` reads it. A review.csv saved again by a spreadsheet in a locale whose
  // decimal mark is a comma has semicolons.
  function delimiterOf(text) {
    var first = text.replace(/^\ufeff/, "").split(/\r\n|\n|\r/).filter(function (l) {
      return l.trim() !== "";
    })[0] || "";
    var best = ",", most = 1;
    [",", ";", "\t"].forEach(function (d) {
      var n = (parseCsv(first, d)[0] || []).length;
      if (n > most) { best = d; most = n; }
    });
    return best;
  }
  function parseCsv(text, delim) {
    var rows = [], row = [], f = "", q = false, i = 0;
    text = text.replace(/^\ufeff/, "");
    for (; i < text.length; i++) {
      var ch = text[i];
      if (q) {
        if (ch === '"') { if (text[i + 1] === '"') { f += '"'; i++; } else { q = false; } }
        else { f += ch; }
      } else if (ch === '"') { q = true; }
      else if (ch === delim) { row.push(f); f = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") { i++; }
        row.push(f); rows.push(row); row = []; f = "";
      } else { f += ch; }
    }
    if (f !== "" || row.length) { row.push(f); rows.push(row); }
    return rows;
  }
  function unguard(s) { return /^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s; }
  /* a reader's class as `brooker agreement` reads one (agreement.parse_class): 0 I II III IV in
     any case, 0-4, an optional "Brooker"; null for an empty cell, undefined for no class */
  function readerClassOf(text) {
    var s = String(text || "").trim().replace(/^'+/, "").trim().toUpperCase();
    if (s === "") { return null; }
    if (s.indexOf("BROOKER") === 0) { s = s.slice(7).trim(); }
    s = s.replace(/^([0-4])\.0+$/, "$1");  /* "3.0", as a spreadsheet may write it */
    if (/^[0-4]$/.test(s)) { return CLASSES[+s]; }
    return CLASSES.indexOf(s) >= 0 ? s : undefined;
  }
  $("import").addEventListener("change", function (ev) {
    var file = ev.target.files[0];
    if (!file) { return; }
    file.text().then(function (text) {
      var rows = parseCsv(text, delimiterOf(text)), head = rows.shift() || [], col = {};
      head.forEach(function (h, i) { col[h.trim()] = i; });
      if (col.file === undefined || col.side === undefined) {
        $("import-status").textContent = "not a review.csv: it has no file and side columns";
        ev.target.value = "";
        return;
      }
      var index = {};
      cards.forEach(function (card) {
        hipRows(card).forEach(function (row) { index[card.dataset.file + "|" + row.dataset.side] = row; });
      });
      var n = 0, unread = 0;
      rows.forEach(function (r) {
        var row = index[unguard(r[col.file] || "") + "|" + (r[col.side] || "")];
        if (!row) { return; }
        // "3" was no class here, though `brooker agreement` reads it: the hip's stored
        // verdict was wiped and the row counted as imported (a radiologist's test)
        var reader = readerClassOf(r[col.reader_class]);
        if (reader === undefined) { unread++; return; }
        var key = hipKey(row);
        verdicts[key] = { reader: reader, agree: reader === row.dataset.cls, tool: row.dataset.cls,
          note: unguard(r[col.note] || ""), at: new Date().toISOString() };
        render(row); n++;
      });
      save(); progress(); applyFilters();
      $("import-status").textContent = "imported " + n + " verdict(s)" +
        (n === 0 && rows.length && !unread ? ": no row names a hip of this report" : "") +
        (unread ? "; " + unread + " row(s) whose reader_class is no Brooker class left as " +
          "they were" : "");
      ev.target.value = "";
    });
  });
  $("clear-all").addEventListener("click", function () {
    if (!window.confirm("Forget every verdict of this report in this browser?")) { return; }
    verdicts = {}; save();
    cards.forEach(function (card) { hipRows(card).forEach(render); });
    progress(); applyFilters();
  });

  window.brookerReview = { csv: reviewCsv, verdicts: function () { return verdicts; } };
  applyFilters();
  progress();
  document.documentElement.dataset.ready = "1";
})();
