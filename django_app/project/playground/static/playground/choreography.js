// The playground's switch to the choreographed checkout: when "choreographed" is selected, the
// order form starts a checkout (POST /playground/checkouts) instead of calling the orders API,
// and the checkout's row, events and calls are polled every 500 ms.
"use strict";
(function () {
  const section = document.getElementById("flow");
  const form = document.getElementById("order-form");
  if (!section || !form) { return; }
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const POLL_MS = 500;
  let current = null;

  function $(id) { return document.getElementById(id); }
  function choreographed() { return $("flow-choreographed").checked; }

  function row(cells) {
    const tr = document.createElement("tr");
    cells.forEach(function (text) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    });
    return tr;
  }

  // Capture phase: runs before the page's own submit handler, which it then stops.
  form.addEventListener("submit", async function (event) {
    if (!choreographed()) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    const items = [];
    form.querySelectorAll("input.quantity").forEach(function (input) {
      const quantity = parseInt(input.value, 10);
      if (quantity > 0) { items.push({ product_id: input.dataset.product, quantity: quantity }); }
    });
    const card = form.querySelector("input[name=card]:checked").value;
    const response = await fetch(section.dataset.place, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ customer: $("customer").value, items: items, card: card }),
      credentials: "same-origin",
    });
    const data = await response.json();
    if (!response.ok) {
      $("order-note").textContent = data.title + (data.errors ? ": " + data.errors.join("; ") : "");
      return;
    }
    current = data.checkout_id;
    $("order-note").textContent = "checkout " + current + " started: the participants take it from here";
    $("checkout").hidden = false;
  }, true);

  async function refresh() {
    if (current === null) { return; }
    const response = await fetch(section.dataset.feed.replace("00000000-0000-0000-0000-000000000000", current), { credentials: "same-origin" });
    if (!response.ok) { return; }
    const data = await response.json();
    $("checkout-id").textContent = data.checkout_id;
    $("checkout-status").textContent = data.status;
    $("checkout-moved-by").textContent = data.moved_by;
    $("checkout-error").textContent = data.error ? "(" + data.error + ")" : "";
    $("checkout-events").replaceChildren.apply($("checkout-events"), data.events.map(function (e) {
      const handlers = e.handlers.map(function (h) { return h.name + (h.done ? " ✓" : " …"); });
      return row([e.event_type, e.outbox, handlers.join(", ") || "(no participant)"]);
    }));
    const byService = {};
    data.calls.forEach(function (c) { byService[c.service] = (byService[c.service] || 0) + 1; });
    $("checkout-calls").textContent = Object.keys(byService).map(function (s) { return s + " " + byService[s]; }).join(", ") || "none";
    $("checkout-charges").textContent = data.charges === null ? "unknown" : data.charges.map(function (c) { return c.status; }).join(", ") || "none";
  }

  setInterval(refresh, POLL_MS);
})();
