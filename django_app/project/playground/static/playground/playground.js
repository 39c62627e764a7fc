// The playground page: place orders, set faults, and poll the saga's JSON feeds every 500 ms.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("playground-config").textContent);
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const POLL_MS = 500;
  let current = null; // the saga being watched
  let location_ = null; // its URL in the orders API, and the token that may read it
  let locationToken = null;
  const tokens = {}; // customer -> bearer token, in this page's memory only

  function $(id) { return document.getElementById(id); }
  function url(name, sagaId) { return config.urls[name].replace("SAGA", encodeURIComponent(sagaId || "")); }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  function fill(tbody, items, render) {
    const rows = items.map(function (item) {
      const tr = document.createElement("tr");
      render(tr, item);
      return tr;
    });
    tbody.replaceChildren.apply(tbody, rows);
  }

  async function send(method, target, body) {
    const response = await fetch(target, {
      method: method,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json();
    return { ok: response.ok, status: response.status, data: data };
  }

  async function getJSON(target) {
    const response = await fetch(target, { credentials: "same-origin" });
    if (!response.ok) { return null; }
    return response.json();
  }

  function describeErrors(data) {
    const errors = (data.errors || []).map(function (e) {
      return typeof e === "string" ? e : (e.loc || []).join(".") + ": " + e.msg;
    });
    return data.title + (errors.length ? ": " + errors.join("; ") : "");
  }

  // --- placing an order -------------------------------------------------------------------
  $("order-form").addEventListener("submit", function (event) {
    event.preventDefault();
    placeOrder();
  });

  // Places the order the form describes; resolves to its saga id, or null when refused.
  async function placeOrder() {
    const items = [];
    document.querySelectorAll("input.quantity").forEach(function (input) {
      const quantity = parseInt(input.value, 10);
      if (quantity > 0) {
        // No price: the catalogue's, recorded when the units are reserved, is charged.
        items.push({ product_id: input.dataset.product, quantity: quantity });
      }
    });
    const card = document.querySelector("input[name=card]:checked").value;
    const customer = $("customer").value;
    if (!tokens[customer]) {
      const issued = await send("POST", url("token").replace("USER", encodeURIComponent(customer)));
      if (!issued.ok) { $("order-note").textContent = describeErrors(issued.data); return null; }
      tokens[customer] = issued.data.token;
    }
    const response = await fetch(config.urls.orders, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + tokens[customer],
        "Idempotency-Key": crypto.randomUUID(),
      },
      body: JSON.stringify({
        items: items, currency: "USD", payment_method: { type: "card", token: card },
      }),
      credentials: "omit",
    });
    const body = await response.json();
    if (response.status === 202) {
      $("order-note").textContent = "Accepted (202): order request " + body.id + " waits for the worker.";
      location_ = response.headers.get("Location");
      locationToken = tokens[customer];
      $("api-location").textContent = location_;
      watch(body.id);
      return body.id;
    }
    $("order-note").textContent = response.status + " " + body.title + (body.detail ? ": " + body.detail : "");
    return null;
  }

  async function refreshApiStatus() {
    if (location_ === null) { return; }
    const response = await fetch(location_, {
      headers: { "Authorization": "Bearer " + locationToken }, credentials: "omit",
    });
    if (!response.ok) { return; }
    const body = await response.json();
    $("api-status").textContent = body.status;
    $("api-status").dataset.status = body.status;
  }

  // --- faults -----------------------------------------------------------------------------
  function fillOperations() {
    const service = $("fault-service").value;
    const options = config.operations[service].map(function (op) {
      const option = document.createElement("option");
      option.value = op.method + " " + op.path;
      option.textContent = op.method + " " + op.path;
      return option;
    });
    $("fault-operation").replaceChildren.apply($("fault-operation"), options);
  }
  Object.keys(config.operations).forEach(function (service) {
    const option = document.createElement("option");
    option.value = service;
    option.textContent = service;
    $("fault-service").appendChild(option);
  });
  $("fault-service").addEventListener("change", fillOperations);
  fillOperations();

  function number(id) {
    const value = $(id).value;
    return value === "" ? undefined : Number(value);
  }

  $("fault-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const operation = $("fault-operation").value.split(" ");
    const kind = $("fault-kind").value;
    const spec = { service: $("fault-service").value, method: operation[0], path: operation[1], kind: kind, times: number("fault-times") };
    if (kind === "error") { spec.status = number("fault-status") || 503; }
    if (kind === "malformed" && number("fault-status") !== undefined) { spec.status = number("fault-status"); }
    if (kind === "latency") { spec.delay = number("fault-delay"); }
    if (kind === "rate_limit") { spec.retry_after = number("fault-retry-after"); }
    const result = await send("POST", config.urls.faults, spec);
    $("fault-note").textContent = result.ok
      ? "Fault added on " + spec.service + ": " + kind + " on " + spec.method + " " + spec.path + "."
      : describeErrors(result.data);
    refreshFaults();
  });

  $("clear-faults").addEventListener("click", async function () {
    const result = await send("DELETE", config.urls.faults);
    $("fault-note").textContent = result.ok ? "Every fault cleared." : describeErrors(result.data);
    refreshFaults();
  });

  async function refreshFaults() {
    const data = await getJSON(config.urls.faults);
    if (data === null) { return; }
    fill($("faults-list"), data.faults, function (tr, f) {
      cell(tr, f.service);
      cell(tr, f.method + " " + f.path);
      cell(tr, f.kind + (f.status ? " " + f.status : "") + (f.delay ? " " + f.delay + "s" : "") + (f.retry_after !== null && f.retry_after !== undefined ? " Retry-After " + f.retry_after : ""));
      cell(tr, f.remaining === null ? "until cleared" : f.remaining);
      cell(tr, f.hits, "hits");
    });
  }

  // --- the worker's kill switch -----------------------------------------------------------
  $("arm-kill").addEventListener("click", function () { send("POST", config.urls.kill).then(refreshStatus); });
  $("disarm-kill").addEventListener("click", function () { send("DELETE", config.urls.kill).then(refreshStatus); });

  function clock(seconds) { return new Date(seconds * 1000).toLocaleTimeString(); }

  async function refreshStatus() {
    const data = await getJSON(config.urls.status);
    if (data === null) { return; }
    const w = data.worker;
    const live = w.pid ? "worker pid " + w.pid + " running" : "no worker running (being restarted)";
    $("worker-status").textContent = live + " · " + w.started + " started so far" + (w.kill_armed ? " · kill after the next charge: ARMED" : "");
    $("worker-status").dataset.armed = w.kill_armed ? "yes" : "no";
    $("worker-status").dataset.started = w.started;
    const exits = w.exits.map(function (e) {
      const li = document.createElement("li");
      li.className = "worker-exit";
      li.textContent = "pid " + e.pid + " died at " + clock(e.at) + " (" + (e.signal || "exit " + e.returncode) + ")" + (e.point ? " at " + e.point : "");
      return li;
    });
    $("worker-exits").replaceChildren.apply($("worker-exits"), exits);
    const sagas = data.sagas.map(function (s) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "#";
      a.textContent = s.saga_id;
      a.addEventListener("click", function (event) {
        event.preventDefault();
        location_ = null;
        $("api-location").textContent = "";
        watch(s.saga_id);
      });
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + s.status));
      return li;
    });
    $("recent-sagas").replaceChildren.apply($("recent-sagas"), sagas);
    $("dead-count").textContent = "(" + data.dead_letters.length + ")";
    $("dead-count").dataset.count = String(data.dead_letters.length);
    if (data.dead_letters.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      cell(tr, "none: every event so far was handled, or is still being retried").colSpan = 4;
      $("dead-letters").replaceChildren(tr);
    } else {
      fill($("dead-letters"), data.dead_letters, function (tr, d) {
        cell(tr, d.event_type);
        cell(tr, d.event_id, "code");
        cell(tr, d.reason);
        cell(tr, String(d.attempts));
      });
    }
    hooks.status.forEach(function (hook) { hook(data); });
  }

  // --- the watched saga -------------------------------------------------------------------
  function watch(sagaId) {
    if (current !== sagaId) {
      $("api-status").textContent = "-";
      $("api-status").dataset.status = "";
    }
    current = sagaId;
    $("saga-id").textContent = sagaId;
    refreshSaga();
  }

  async function refreshSaga() {
    if (current === null) { return; }
    const sagaId = current;
    const [saga, events, calls, trace] = await Promise.all([
      getJSON(url("saga", sagaId)), getJSON(url("events", sagaId)), getJSON(url("calls", sagaId)),
      getJSON(url("trace", sagaId)),
    ]);
    if (sagaId !== current) { return; }
    if (saga !== null) { showSaga(saga); hooks.saga.forEach(function (hook) { hook(saga); }); }
    if (events !== null) { showEvents(events.events); }
    if (calls !== null) { showCalls(calls); hooks.calls.forEach(function (hook) { hook(calls); }); }
    if (trace !== null) { showTrace(trace); }
  }

  function showTrace(trace) {
    $("trace-id").textContent = trace.trace_id;
    const box = $("trace-waterfall");
    if (box.dataset.spans === String(trace.spans.length) && box.dataset.trace === trace.trace_id) { return; }
    box.dataset.spans = String(trace.spans.length);
    box.dataset.trace = trace.trace_id;
    // drawn and escaped by the server (project/demo/report/waterfall.py), like the timeline
    box.innerHTML = trace.svg || '<p class="note">No span yet.</p>';
  }

  function workerText(w) {
    if (!w || w.pid === null) { return w && w.owner ? w.owner : ""; }
    return "pid " + w.pid + (w.alive === true ? " (alive)" : w.alive === false ? " (dead)" : "");
  }

  function showSaga(saga) {
    $("saga-status").textContent = saga.status;
    $("saga-status").dataset.status = saga.status;
    $("saga-position").textContent = saga.position;
    $("saga-error").textContent = saga.error;
    $("admin-link").href = saga.admin_url;
    $("admin-link").hidden = false;
    $("timeline").innerHTML = saga.timeline; // drawn and escaped by the server (sagas/timeline.py)
    fill($("steps"), saga.steps, function (tr, s) {
      tr.dataset.direction = s.direction;
      tr.dataset.outcome = s.outcome;
      tr.dataset.step = s.name;
      cell(tr, s.index + 1);
      cell(tr, s.name, "step-name");
      cell(tr, s.direction);
      cell(tr, s.attempt);
      cell(tr, s.outcome, "outcome");
      const worker = cell(tr, workerText(s.worker), "worker");
      worker.dataset.alive = s.worker.alive === null ? "" : (s.worker.alive ? "yes" : "no");
      cell(tr, s.duration_ms === null ? "" : s.duration_ms.toFixed(1));
      cell(tr, s.error, "error");
      if (s.note) {
        const note = document.createElement("div");
        note.className = "note step-note";
        note.textContent = s.note;
        tr.lastChild.appendChild(note);
      }
    });
    const undone = saga.compensations.map(function (c) {
      const li = document.createElement("li");
      li.dataset.step = c.name;
      li.textContent = c.name;
      if (c.note) {
        const why = document.createElement("span");
        why.className = "note undo-note";
        why.textContent = ": " + c.note;
        li.appendChild(why);
      }
      return li;
    });
    $("compensations").replaceChildren.apply($("compensations"), undone);
  }

  function showEvents(events) {
    fill($("events-list"), events, function (tr, e) {
      tr.dataset.eventType = e.event_type;
      cell(tr, e.event_type);
      cell(tr, e.outbox, "outbox");
      cell(tr, e.on_bus ? "carried" : "not yet", "bus");
      cell(tr, e.handlers.map(function (h) { return h.name + (h.done ? " ✓" : " …"); }).join(", ") || "(no handler)", "inbox");
    });
  }

  function showCalls(data) {
    const charges = data.charges;
    $("charges").textContent = charges === null ? "unknown" : charges.length + (charges.length ? " (" + charges.map(function (c) { return c.status; }).join(", ") + ")" : "");
    $("charges").dataset.count = charges === null ? "" : String(charges.length);
    const posts = data.calls.filter(function (c) { return c.service === "payments" && c.method === "POST" && c.path === "/payments"; });
    const keys = new Set(posts.map(function (c) { return c.key; }));
    $("payment-posts").textContent = posts.length + " with " + keys.size + " Idempotency-Key" + (keys.size === 1 ? "" : "s");
    $("payment-posts").dataset.count = String(posts.length);
    $("payment-posts").dataset.keys = String(keys.size);
    fill($("calls-list"), data.calls, function (tr, c) {
      tr.dataset.service = c.service;
      tr.dataset.key = c.key;
      tr.dataset.replay = c.replay ? "true" : "false";
      cell(tr, "+" + Math.round(c.t_ms) + " ms", "at");
      cell(tr, c.service);
      cell(tr, c.method + " " + c.path);
      cell(tr, c.status === null ? "— (no answer)" : c.status, "status");
      cell(tr, c.attempt, "attempt");
      cell(tr, c.key, "code");
      cell(tr, c.replay || "", "replay");
    });
  }

  function tick() {
    Promise.all([refreshStatus(), refreshFaults(), refreshSaga(), refreshApiStatus()]).finally(function () {
      setTimeout(tick, POLL_MS);
    });
  }

  // What the other scripts of the page (explain.js, presets.js) build on.
  const hooks = { saga: [], calls: [], status: [] };
  window.Playground = {
    config: config, $: $, cell: cell, fill: fill, send: send, getJSON: getJSON, url: url,
    describeErrors: describeErrors, placeOrder: placeOrder, refreshFaults: refreshFaults,
    refreshStatus: refreshStatus, hooks: hooks,
  };
  setTimeout(tick, 0);
})();
