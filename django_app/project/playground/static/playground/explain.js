// What the page explains beside the raw state: the lease, which API status a saga status is,
// and the two retry layers (client requests inside step attempts inside the saga).
"use strict";
(function () {
  const P = window.Playground;
  const $ = P.$;

  function clock(seconds) { return new Date(seconds * 1000).toLocaleTimeString(); }

  function showLease(saga) {
    const lease = saga.lease;
    const w = lease.worker;
    let text = lease.text;
    if (w) {
      const who = w.pid === null ? w.owner : "worker pid " + w.pid;
      const alive = w.alive === true ? "alive" : w.alive === false ? "dead" : "not known to this launcher";
      text = who + " (" + alive + ") holds it until " + clock(lease.expires_at) +
        (lease.lapses_in_s > 0 ? " (lapses in " + lease.lapses_in_s.toFixed(1) + " s)" : " (lapsed)") +
        ": " + lease.text;
    }
    $("lease-text").textContent = text;
    $("lease").dataset.state = lease.state;
    $("lease").dataset.alive = w && w.alive !== null ? (w.alive ? "yes" : "no") : "";
  }

  function showStatuses(saga) {
    document.querySelectorAll("#statuses tr[data-saga-status]").forEach(function (tr) {
      tr.classList.toggle("current", tr.dataset.sagaStatus === saga.status);
    });
  }

  function square(className, text, title) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    if (title) { span.title = title; }
    return span;
  }

  function statusClass(status) {
    if (status === null || status === undefined) { return "none"; }
    if (status < 300) { return "ok"; }
    if (status < 500) { return "client"; }
    return "server";
  }

  function attemptBox(layer, a) {
    const box = document.createElement("div");
    box.className = "attempt-box";
    box.dataset.attempt = String(a.attempt);
    box.dataset.status = a.status;
    box.dataset.requests = String(a.requests.length);
    box.appendChild(square("attempt-label", "#" + a.attempt + " " + (a.finished ? a.status : "no end")));
    a.requests.forEach(function (r) {
      const text = r.status === null ? "—" : String(r.status);
      box.appendChild(square("request " + statusClass(r.status), text, r.method + " " + r.path + " · " + r.key));
    });
    // The rest of the client's budget for the last call: what another failure could still spend.
    if (layer.requests_per_call !== null && a.calls > 0) {
      const spare = layer.requests_per_call * a.calls - a.requests.length;
      for (let i = 0; i < spare; i += 1) { box.appendChild(square("request spare", "", "not needed")); }
    }
    return box;
  }

  function showLayers(data) {
    const list = $("layers-list");
    const withCalls = data.layers.filter(function (l) { return l.requests_per_call !== null; });
    if (withCalls.length === 0) {
      list.replaceChildren(square("note", "No calls yet."));
      return;
    }
    const rows = withCalls.map(function (layer) {
      const row = document.createElement("div");
      row.className = "layer";
      row.dataset.step = layer.step;
      row.dataset.direction = layer.direction;
      row.dataset.attemptsAllowed = String(layer.attempts_allowed);
      row.dataset.requestsPerCall = String(layer.requests_per_call);
      row.dataset.attempts = String(layer.attempts.length);
      const kind = layer.direction === "compensation" ? "undo" : "do";
      const budget = (layer.attempts_allowed === null ? "?" : layer.attempts_allowed) + " attempts × " +
        layer.requests_per_call + " requests";
      const head = document.createElement("div");
      head.className = "layer-head";
      head.textContent = layer.step + " · " + kind + ": " + budget + " per call, " +
        layer.attempts.length + " attempt(s) used";
      row.appendChild(head);
      const boxes = document.createElement("div");
      boxes.className = "attempts";
      layer.attempts.forEach(function (a) { boxes.appendChild(attemptBox(layer, a)); });
      row.appendChild(boxes);
      return row;
    });
    list.replaceChildren.apply(list, rows);
  }

  P.hooks.saga.push(showLease, showStatuses);
  P.hooks.calls.push(showLayers);
})();
