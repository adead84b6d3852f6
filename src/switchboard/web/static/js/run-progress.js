// Live progress of a running sync run: the run page's counts, bar and phase follow the run's
// server-sent events (GET .../runs/{number}/events). When the run finishes, the outcome (counts,
// failures grouped by cause, items) is fetched and shown in place of the progress, announced in
// a live region that was there before the change; focus moves only if it was on something the
// swap removed. If that fetch fails, the link to the outcome stays. Without this script the page
// has a Refresh link.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box || !window.EventSource) {
    return;
  }
  var phase = box.querySelector("[data-phase]");
  var bar = document.getElementById("run-bar");
  var note = box.querySelector("[data-note]");
  var link = document.getElementById("refresh");
  var source = new EventSource(box.getAttribute("data-events"));
  var finished = false;
  // A live region must exist before its text changes for screen readers to announce it.
  var announcer = document.createElement("p");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  document.body.appendChild(announcer);

  if (note) {
    note.textContent = "This run is still running; these numbers update as it goes.";
  }

  function show(data) {
    ["read", "planned", "applied", "errors"].forEach(function (key) {
      var cell = box.querySelector('[data-count="' + key + '"]');
      if (cell && typeof data[key] === "number") {
        cell.textContent = String(data[key]);
      }
    });
    // Only a change of phase is announced (the live region holds the phase alone).
    if (phase && phase.textContent !== data.phase_words) {
      phase.textContent = data.phase_words;
    }
    if (bar && data.planned > 0) {
      bar.max = data.planned;
      bar.value = Math.min(data.applied, data.planned);
    }
  }

  function read(event) {
    try {
      return JSON.parse(event.data);
    } catch (e) {
      return null;
    }
  }

  source.addEventListener("progress", function (event) {
    var data = read(event);
    if (data) {
      show(data);
    }
  });

  source.addEventListener("finished", function (event) {
    var data = read(event);
    finished = true;
    source.close();
    if (data) {
      show(data);
    }
    if (phase) {
      phase.textContent = "Finished" + (data && data.status ? ": " + data.status : "");
    }
    if (note) {
      note.textContent = "This run has finished.";
    }
    if (link) {
      link.textContent = "Show the outcome";
    }
    box.classList.add("run-finished");
    showOutcome();
  });

  // The finished run's page, swapped into this one: same address, no reload.
  function showOutcome() {
    var main = document.getElementById("main");
    if (!main || !window.fetch || !window.DOMParser) {
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
        if (!fresh || fresh.querySelector("#progress")) {
          return; // not finished after all: the link stays
        }
        var hadFocus = main.contains(document.activeElement);
        main.innerHTML = fresh.innerHTML;
        announcer.textContent = "The run has finished; its outcome is shown.";
        if (hadFocus) {
          var heading = main.querySelector("#run h2");
          if (heading) {
            heading.setAttribute("tabindex", "-1");
            heading.focus();
          }
        }
      })
      .catch(function () {
        // The "Show the outcome" link is still there.
      });
  }

  source.addEventListener("gone", function () {
    source.close();
  });

  source.addEventListener("error", function () {
    // The browser reconnects by itself; once it gives up, the Refresh link is the way on.
    if (!finished && source.readyState === EventSource.CLOSED && note) {
      note.textContent = "Live updates stopped; refresh to see the latest numbers.";
    }
  });
})();
