// "Try this": a preset sets the faults (and the kill switch), places an order and, once its
// saga has ended, asks the server whether what the preset said would happen happened.
"use strict";
(function () {
  const P = window.Playground;
  const $ = P.$;
  const bySlug = {};
  P.config.presets.forEach(function (preset) { bySlug[preset.slug] = preset; });
  let running = null; // { preset, sagaId, judging }

  function say(preset, met, text) {
    $("preset-result").dataset.preset = preset ? preset.slug : "";
    $("preset-result").dataset.met = met;
    $("preset-result").textContent = text;
  }

  async function run(preset) {
    running = null;
    say(preset, "setting-up", preset.name + ": setting the faults up…");
    const cleared = await P.send("DELETE", P.config.urls.faults);
    const kill = await P.send(preset.kill_after_charge ? "POST" : "DELETE", P.config.urls.kill);
    if (!cleared.ok || !kill.ok) {
      say(preset, "no", preset.name + ": could not set up: " + P.describeErrors(cleared.ok ? kill.data : cleared.data));
      return;
    }
    for (const fault of preset.faults) {
      const added = await P.send("POST", P.config.urls.faults, fault);
      if (!added.ok) { say(preset, "no", preset.name + ": " + P.describeErrors(added.data)); return; }
    }
    P.refreshFaults();
    P.refreshStatus();
    // One unit of the first product, the preset's card.
    document.querySelectorAll("input.quantity").forEach(function (input, i) { input.value = i === 0 ? "1" : "0"; });
    document.querySelector("input[name=card][value='" + preset.card + "']").checked = true;
    const sagaId = await P.placeOrder();
    if (sagaId === null) {
      say(preset, "no", preset.name + ": the order was refused: " + $("order-note").textContent);
      return;
    }
    running = { preset: preset, sagaId: sagaId, judging: false };
    say(preset, "pending", preset.name + ": order placed (saga " + sagaId + "). Should happen: " +
      preset.expect + ". Waiting for the saga to end…");
  }

  async function judge(saga) {
    const r = running;
    if (r === null || saga.saga_id !== r.sagaId || !saga.finished || r.judging) { return; }
    r.judging = true;
    const target = P.url("verdict", r.sagaId).replace("PRESET", encodeURIComponent(r.preset.slug));
    const verdict = await P.getJSON(target);
    if (r.preset.clear_after) {
      await P.send("DELETE", P.config.urls.faults);
      P.refreshFaults();
    }
    if (running !== r) { return; }
    running = null;
    if (verdict === null) { say(r.preset, "no", r.preset.name + ": the check could not be read."); return; }
    const head = verdict.met ? "✓ It happened. " : "✗ Not what should have happened. ";
    say(r.preset, verdict.met ? "yes" : "no", r.preset.name + ": " + head + "Seen: " +
      verdict.observed + ". Should happen: " + verdict.expected + ".");
  }

  document.querySelectorAll("button.preset").forEach(function (button) {
    button.addEventListener("click", function () { run(bySlug[button.dataset.preset]); });
  });
  P.hooks.saga.push(judge);
})();
