// Progressive enhancement only: every page works without this file.
// 1. Remember the browser's time zone in a cookie, so that the server can write
//    every time in it on the next page (webapp/i18n.py: reader_timezone).
// 2. Until it can: show each <time data-local> also in the viewer's time zone.
//    (The server leaves data-local off the times it already wrote in that zone.)
// 3. Preselect the viewer's time zone in the participant's registration
//    form (the fields marked data-preselect), nowhere else.
// 4. Focus the error summary after a failed submit.
// 5. Keep a message's delivery progress current.
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
  var noErrors = !document.querySelector(".has-error, #form-error");
  var tz = document.querySelector("select[data-preselect=timezone]");
  if (tz && zone && noErrors) {
    for (var i = 0; i < tz.options.length; i++) {
      if (tz.options[i].value === zone) { tz.value = zone; break; }
    }
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
})();
