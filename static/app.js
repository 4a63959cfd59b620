// Progressive enhancement only: every page works without this file.
// 1. Remember the browser's time zone in a cookie, so that the server can write
//    every time in it on the next page (webapp/i18n.py: reader_timezone).
// 2. Until it can: show each <time data-local> also in the viewer's time zone.
//    (The server leaves data-local off the times it already wrote in that zone.)
// 3. Preselect the viewer's time zone in the participant's registration
//    form (the fields marked data-preselect), nowhere else, and load every
//    zone when the short list lacks it or the reader asks for another.
// 4. Focus the error summary after a failed submit.
// 5. Keep a message's delivery progress current.
// 6. Keep the count of people in a running Zoom session current (every 20 s).
(function () {
  "use strict";
  var zone;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { zone = null; }
  var label = document.body.getAttribute("data-your-time") || "Your time";
  // Times in the page's language, not the browser's (the server chose it: ?lang=, ...).
  var lang = document.documentElement.getAttribute("lang") || undefined;

  // 1. Only a plausible IANA name (the server checks it against the zones it knows),
  //    and only when it changed: one year, the whole site, never sent cross-site.
  var TZ_COOKIE = "rollcall_tz";
  if (zone && /^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
    var stored = null;
    document.cookie.split(";").forEach(function (pair) {
      var at = pair.indexOf("=");
      if (at > -1 && pair.slice(0, at).trim() === TZ_COOKIE) { stored = pair.slice(at + 1).trim(); }
    });
    if (stored !== zone) {
      document.cookie = TZ_COOKIE + "=" + zone + "; path=/; max-age=31536000; SameSite=Lax" +
        (location.protocol === "https:" ? "; Secure" : "");
    }
  }

  function localText(iso, options) {
    var d = new Date(iso);
    if (isNaN(d)) { return null; }
    try {
      return d.toLocaleString(lang, options);
    } catch (e) {  // a language tag this browser does not know
      return d.toLocaleString(undefined, options);
    }
  }

  // 2. The zone named in the page's language ("Iran Standard Time", "وقت عادی ایران").
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var text = localText(el.getAttribute("datetime"), {
      weekday: "short", day: "numeric", month: "short", year: "numeric",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "long"
    });
    if (!text) { return; }
    var until = el.getAttribute("data-until");
    var end = until && localText(until, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    if (end) { text += " – " + end; }
    // A line of its own at the end of the paragraph, so no sentence is cut in two.
    var span = document.createElement("span");
    span.className = "local-time";
    span.textContent = label + ": " + text + (zone ? " (" + zone + ")" : "");
    el.parentElement.appendChild(span);
  });

  // Only fields marked for it: the program editor's zone and an organiser adding
  // someone by hand must keep what the server chose, or saving would move times.
  // The form lists a few zones and "Other time zone" (value "other"); every zone comes
  // from the same page with ?all_zones=1, loaded only when needed.
  var noErrors = !document.querySelector(".has-error, #form-error");
  var tz = document.querySelector("select[data-preselect=timezone]");
  function pick(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) { select.value = value; return true; }
    }
    return false;
  }
  function everyZone(select, choose) {
    if (!window.fetch || !window.DOMParser) { return; }
    var url = window.location.pathname + "?all_zones=1";
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        var full = text && new DOMParser().parseFromString(text, "text/html").getElementById(select.id);
        if (!full) { return; }
        // Choosing "other" keeps the first zone (the program's) until the reader picks.
        var keep = select.value === "other" ? select.options[0].value : select.value;
        while (select.options.length) { select.remove(0); }
        for (var i = 0; i < full.options.length; i++) {
          select.add(new Option(full.options[i].text, full.options[i].value));
        }
        if (!(choose && pick(select, choose)) && !pick(select, keep)) { select.selectedIndex = 0; }
        if (!choose) { select.focus(); }
      })
      .catch(function () { /* the short list stays; "other" still works without script */ });
  }
  if (tz) {
    if (zone && noErrors && !pick(tz, zone)) { everyZone(tz, zone); }
    tz.addEventListener("change", function () {
      if (tz.value === "other") { everyZone(tz, null); }
    });
  }
  // (The email language needs no script: the server preselects the page's language.)

  // 4. After a failed submit, focus the error summary (autofocus does it where the
  //    browser honours it on a non-form element); its links focus their field.
  var summary = document.getElementById("error-summary");
  if (summary) {
    if (document.activeElement !== summary) { summary.focus(); }
    summary.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (target) { event.preventDefault(); target.focus(); target.scrollIntoView({ block: "center" }); }
    });
  }

  // 5. Delivery progress of a message, kept current without reloading.
  var progress = document.querySelector("[data-progress-url]");
  if (progress && window.fetch) {
    var refresh = function () {
      fetch(progress.getAttribute("data-progress-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (counts) {
          if (!counts) { return; }
          ["sent", "pending", "failed"].forEach(function (key) {
            var el = progress.querySelector('[data-count="' + key + '"]');
            if (el) { el.textContent = counts[key]; }
          });
          var bar = progress.querySelector("[data-bar]");
          if (bar) { bar.value = counts.sent; }
          if (counts.pending > 0) { setTimeout(refresh, 1500); }
        })
        .catch(function () { setTimeout(refresh, 5000); });
    };
    setTimeout(refresh, 1000);
  }

  // 6. People in each running Zoom session now, asked again every 20 seconds.
  var live = document.querySelector("[data-live-url]");
  if (live && window.fetch) {
    var poll = function () {
      fetch(live.getAttribute("data-live-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) {
          if (body && body.sessions) {
            body.sessions.forEach(function (item) {
              var el = live.querySelector('[data-live-session="' + item.id + '"]');
              if (el) { el.textContent = item.text; }
            });
          }
          setTimeout(poll, 20000);
        })
        .catch(function () { setTimeout(poll, 20000); });
    };
    setTimeout(poll, 20000);
  }
})();
