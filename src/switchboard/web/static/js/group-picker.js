// Directory > Groups: matches update as you type (the page works without this script).
//
// Typing asks the page's JSON route (same session) after a short pause and redraws the
// "Matching groups" list; the live status line announces how many groups match. A ticked match
// joins "Chosen groups" when the list is redrawn, so picks survive further searches, and focus
// never leaves the checkbox just ticked. Save posts the form as without script.
(function () {
  "use strict";

  var root = document.getElementById("group-picker");
  var input = document.getElementById("f-search");
  var results = document.getElementById("group-results");
  var chosen = document.getElementById("group-chosen");
  var status = document.getElementById("group-results-status");
  var searchForm = document.getElementById("group-search-form");
  if (!root || !input || !results || !chosen || !status || !searchForm) {
    return;
  }
  var url = root.getAttribute("data-search-url");
  var pickForm = document.getElementById("group-pick-form");
  var canPick = !!(pickForm && pickForm.querySelector('input[name="csrf_token"]'));
  var emptyNote = document.getElementById("group-chosen-empty");
  var searchHidden = pickForm ? pickForm.querySelector('input[name="search"]') : null;
  var timer = null;
  var latest = 0;
  var controller = null;

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function countsText(g) {
    var members = g.members === null ? "members unknown" : plural(g.members, "member", "members");
    var nested;
    if (g.nested_groups === null) {
      nested = "nesting unknown";
    } else if (g.nested_groups === 0) {
      nested = "no nested groups";
    } else {
      nested = plural(g.nested_groups, "nested group", "nested groups");
    }
    return members + " · " + nested + (g.description ? " · " + g.description : "");
  }

  function chosenIds() {
    var ids = {};
    var boxes = chosen.querySelectorAll('input[name="groups"]');
    for (var i = 0; i < boxes.length; i++) {
      ids[boxes[i].value] = boxes[i].checked;
    }
    return ids;
  }

  // Ticked matches move to "Chosen groups" before the matches are redrawn.
  function keepPicks() {
    var boxes = results.querySelectorAll('input[name="groups"]:checked');
    for (var i = 0; i < boxes.length; i++) {
      var item = boxes[i].closest("li");
      var hint = item.querySelector(".hint");
      if (hint) {
        hint.textContent = boxes[i].value;
        hint.classList.add("mono");
        hint.removeAttribute("id");
        boxes[i].removeAttribute("aria-describedby");
      }
      chosen.appendChild(item);
    }
    if (emptyNote && chosen.children.length) {
      emptyNote.classList.add("hidden");
    }
  }

  function render(body, text) {
    keepPicks();
    var picked = chosenIds();
    results.textContent = "";
    var groups = body.groups || [];
    groups.forEach(function (g) {
      var li = document.createElement("li");
      var hintId = "gr-" + g.id;
      if (Object.prototype.hasOwnProperty.call(picked, g.id) && picked[g.id]) {
        var name = document.createElement("span");
        name.className = "group-name";
        name.textContent = g.name;
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "chosen";
        li.appendChild(name);
        li.appendChild(document.createTextNode(" "));
        li.appendChild(badge);
      } else if (canPick) {
        var label = document.createElement("label");
        label.className = "check";
        var box = document.createElement("input");
        box.type = "checkbox";
        box.name = "groups";
        box.value = g.id;
        box.setAttribute("aria-describedby", hintId);
        var span = document.createElement("span");
        span.className = "group-name";
        span.textContent = g.name;
        label.appendChild(box);
        label.appendChild(document.createTextNode(" "));
        label.appendChild(span);
        li.appendChild(label);
      } else {
        var plain = document.createElement("span");
        plain.className = "group-name";
        plain.textContent = g.name;
        li.appendChild(plain);
      }
      var hint = document.createElement("span");
      hint.className = "hint";
      hint.id = hintId;
      hint.textContent = countsText(g);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(hint);
      results.appendChild(li);
    });
    var words;
    if (!groups.length) {
      words = text ? "No group matches '" + text + "'." : "No groups found.";
    } else {
      words = plural(groups.length, "group", "groups") + " shown";
      if (typeof body.total === "number" && body.total > groups.length) {
        words += " of " + body.total + " that match; type more of the name to narrow them";
      }
      words += ".";
    }
    status.textContent = words;
  }

  function search() {
    var text = input.value.trim();
    var mine = ++latest;
    if (controller) {
      controller.abort();
    }
    controller = typeof AbortController === "function" ? new AbortController() : null;
    if (searchHidden) {
      searchHidden.value = text;
    }
    status.textContent = "Searching…";
    fetch(url + "?" + new URLSearchParams({ search: text }).toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) {
        return response.json().then(
          function (body) {
            return { ok: response.ok, body: body };
          },
          function () {
            return { ok: false, body: { error: "The search could not be answered; reload the page." } };
          }
        );
      })
      .then(function (answer) {
        if (mine !== latest) {
          return; // a newer search is on its way
        }
        if (!answer.ok) {
          status.textContent = answer.body.error || "The search failed; try again.";
          return;
        }
        render(answer.body, text);
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") {
          return;
        }
        if (mine === latest) {
          status.textContent = "The search failed: the portal could not be reached. Try again.";
        }
      });
  }

  input.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(search, 250);
  });
  searchForm.addEventListener("submit", function (event) {
    // Enter in the search box: search now, without leaving the page (picks stay).
    event.preventDefault();
    window.clearTimeout(timer);
    search();
  });
})();
