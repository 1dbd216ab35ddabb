// The fork dialog: a new branch after a step, optionally with an injection.

import { h, clear, fmtStance, initials } from "./dom.js";
import { ApiError, MAX_ROLLOUTS } from "./api.js";
import { forkIcon } from "./transcript.js";
import { injectionPreview } from "./preview.js";
import { loadMeta, parameter } from "./meta.js";

/** Shows problem+json errors: the detail on top, field errors next to their inputs. */
export function showProblem(form, box, err) {
  clear(box);
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll(".invalid")) el.classList.remove("invalid");
  if (!err) {
    box.hidden = true;
    return;
  }
  const detail = err instanceof ApiError ? err.detail : String(err.message || err);
  box.append(h("strong", {}, detail));
  const errors = err instanceof ApiError ? err.errors : [];
  const unplaced = [];
  for (const fe of errors) {
    const path = String(fe.field || "");
    const last = path.split(/[.\/\[\]]/).filter(Boolean).pop() || "";
    const target = form.querySelector(`[data-field="${CSS.escape(last)}"]`);
    if (target) {
      target.classList.add("invalid");
      target.append(h("div", { class: "field-error", "data-testid": `field-error-${last}` }, fe.reason || "invalid"));
    } else {
      unplaced.push(fe);
    }
  }
  if (unplaced.length) {
    box.append(h("ul", { class: "problem-list" }, unplaced.map((fe) => h("li", {}, h("code", {}, fe.field || "request"), " ", fe.reason || ""))));
  }
  box.hidden = false;
}

const DEFAULT_FUTURES = 50;

/**
 * @param {HTMLDialogElement} dialog
 * @param {{branch: object, step: number, agents: object[], hasStance: boolean,
 *          submit: (body: object, runAfter: boolean) => Promise<void>,
 *          submitSet?: (body: {at_step, n, injection?}) => Promise<void>}} opts
 *   submitSet: "run N futures of this" (a rollout set); without it the option is hidden.
 */
export async function openForkDialog(dialog, opts) {
  const { branch, step, agents, hasStance } = opts;
  // the strategies come from the server's registry (GET /v1/meta), never from this file
  const { strategies } = await loadMeta();
  clear(dialog);
  const defaultLabel = `inject@${step}`;
  const label = h("input", { type: "text", name: "label", placeholder: defaultLabel, maxlength: 80, "data-testid": "fork-label", autocomplete: "off" });
  const content = h("textarea", {
    name: "content",
    rows: 3,
    maxlength: 4000,
    placeholder: "What do the agents learn? e.g. “An independent study finds the barrier is safe.” Leave empty for a plain fork.",
    "data-testid": "fork-content",
  });
  const fallback = strategies.some((s) => s.name === "broadcast") ? "broadcast" : strategies[0]?.name;
  const strategyInputs = strategies.map((s) => h("input", {
    type: "radio", name: "strategy", value: s.name, checked: s.name === fallback, "data-testid": `fork-strategy-${s.name}`,
  }));
  const chosenStrategy = () => strategies.find((s) => s.name === strategyInputs.find((i) => i.checked)?.value) || strategies[0];
  const spreadSteps = h("input", { type: "number", step: 1, value: 3, name: "steps", class: "spread-steps", "aria-label": "Spread over how many steps", "data-testid": "fork-spread-steps" });
  const scheduleField = h("div", { class: "field field-inline", "data-field": "steps", "data-testid": "fork-schedule" },
    h("label", {}, "Spread over"), spreadSteps, h("span", { class: "muted" }, " steps — a growing share of them hears it each step (the order is drawn from the branch seed)"));
  // organic: where it comes from (a news item, or an agent whose neighbours hear it first)
  const sourcePick = h("select", { name: "source", "aria-label": "Where it comes from", "data-testid": "fork-source" },
    h("option", { value: "news" }, "a news item"),
    agents.map((a) => h("option", { value: `agent:${a.id}` }, `${a.name} (its neighbours hear it first)`)));
  const sourceField = h("div", { class: "field", "data-field": "source", "data-testid": "fork-source-field" },
    h("label", {}, "Comes from"), sourcePick,
    h("p", { class: "hint" }, "Then it passes along the network: whoever heard it tells the people who hear them, one hop a step."));
  const targetBoxes = agents.map((a) => h("label", { class: "target", style: { "--agent": a.color } },
    h("input", { type: "checkbox", name: "targets", value: a.id, "data-testid": `fork-target-${a.id}` }),
    h("span", { class: "avatar avatar-xs", style: { background: a.color } }, initials(a.name)),
    h("span", { class: "target-name" }, a.name, h("span", { class: "muted" }, ` · ${a.role}`))));
  const targetsNote = h("p", { class: "hint", "data-testid": "fork-targets-note" });
  const targets = h("fieldset", { class: "field targets-field", "data-field": "targets" },
    h("legend", {}, "Who hears it"), targetsNote, h("div", { class: "targets" }, targetBoxes));

  const pushOn = h("input", { type: "checkbox", name: "push", "data-testid": "fork-stance-enable" });
  const pushValue = h("input", { type: "range", min: -1, max: 1, step: 0.05, value: 0.8, name: "stance", "data-testid": "fork-stance", disabled: true });
  const pushOut = h("output", { class: "push-out" }, fmtStance(0.8));
  pushValue.addEventListener("input", () => {
    pushOut.textContent = fmtStance(Number(pushValue.value));
  });
  pushOn.addEventListener("change", () => {
    pushValue.disabled = !pushOn.checked;
    pushOut.classList.toggle("muted", !pushOn.checked);
  });
  pushOut.classList.add("muted");
  const stanceField = hasStance
    ? h("div", { class: "field", "data-field": "stance" },
      h("label", { class: "check" }, pushOn, " Push stance in a direction"),
      h("div", { class: "push-row" }, h("span", { class: "muted small" }, "against"), pushValue, h("span", { class: "muted small" }, "for"), pushOut),
      h("p", { class: "hint", "data-testid": "fork-stance-hint" },
        "Without a push, the offline rules brain reads a direction only where the text is close in meaning to the arguments the scenario declares (or uses words from a short list) — the preview shows what it will do. LLM brains read the text themselves."))
    : null;

  const runAfter = h("input", { type: "checkbox", name: "run", checked: true, "data-testid": "fork-run" });
  const problem = h("div", { class: "problem", hidden: true, role: "alert", "data-testid": "fork-error" });
  const submit = h("button", { class: "btn btn-primary", type: "submit", "data-testid": "fork-submit" }, forkIcon(), " Create fork");
  const cancel = h("button", { class: "btn btn-ghost", type: "button", "data-testid": "fork-cancel" }, "Cancel");
  // "run N futures of this": a rollout set from this point with the same injection
  const futuresN = h("input", {
    type: "number", min: 1, max: MAX_ROLLOUTS, step: 1, value: DEFAULT_FUTURES, name: "n",
    class: "futures-n", "aria-label": "How many futures", "data-testid": "fork-futures-n",
  });
  const futuresWord = h("span", {}, "futures");
  const futuresBtn = h("button", { class: "btn btn-futures", type: "button", "data-testid": "fork-futures-submit" });
  const futures = h("div", { class: "futures-row field", "data-field": "n", "data-testid": "fork-futures" },
    h("div", { class: "futures-text" },
      h("strong", {}, "Or see what tends to happen: "),
      h("span", { class: "futures-input" }, "run ", futuresN, " ", futuresWord, " of this"),
      h("p", { class: "hint" },
        "Each future forks here with its own seed and runs to the end. With an injection, as many control futures with the same seeds and no injection run beside them, so the difference is the injection's effect.")),
    futuresBtn);

  // The injection as the form says it: {injection} | {missing: "targets"} | {} (nothing typed).
  const build = () => {
    const text = content.value.trim();
    const strategy = chosenStrategy();
    const pushing = hasStance && pushOn.checked;
    if (!text && !pushing) return {};
    const takesTargets = parameter(strategy, "targets");
    const chosen = targetBoxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    if (takesTargets?.required && !chosen.length) return { missing: "targets" };
    const injection = { content: text, strategy: strategy.name, targets: takesTargets && chosen.length ? chosen : null };
    if (parameter(strategy, "schedule")) injection.schedule = { steps: Number(spreadSteps.value) };
    if (parameter(strategy, "schedule.source")) injection.schedule = { source: sourcePick.value };
    if (pushing) injection.fields = { stance: Number(pushValue.value) };
    return { injection };
  };
  const currentInjection = () => {
    const { injection } = build();
    return injection && injection.content ? injection : null;
  };
  const preview = injectionPreview({ branchId: branch.id, agents, read: currentInjection, atStep: step });

  const syncStrategy = () => {
    const strategy = chosenStrategy();
    const takesTargets = parameter(strategy, "targets");
    for (const box of targetBoxes) box.querySelector("input").disabled = !takesTargets;
    targets.classList.toggle("disabled", !takesTargets);
    scheduleField.hidden = !parameter(strategy, "schedule");
    sourceField.hidden = !parameter(strategy, "schedule.source");
    const who = !takesTargets ? "Every agent hears it." : takesTargets.required ? "Tick who hears it." : `Tick who hears it — ${takesTargets.description}.`;
    targetsNote.textContent = `${strategy.name}: ${strategy.description}. ${who}`;
  };
  for (const input of strategyInputs) input.addEventListener("change", syncStrategy);
  for (const input of [content, ...strategyInputs, spreadSteps, sourcePick, pushOn, pushValue, ...targetBoxes.map((b) => b.querySelector("input"))]) {
    input.addEventListener("input", () => preview.refresh());
    input.addEventListener("change", () => preview.refresh());
  }

  const form = h("form", { class: "fork-form", method: "dialog", "data-testid": "fork-form" },
    h("header", { class: "dialog-head" },
      h("div", {},
        h("h2", {}, `Fork after step ${step}`),
        h("p", { class: "muted" }, `The new branch keeps steps 0–${step} of “${branch.label}” and continues from there${step >= 0 ? " with what you inject" : ""}.`)),
      h("button", { class: "icon-btn", type: "button", "aria-label": "Close", onclick: () => dialog.close() }, "×")),
    problem,
    h("div", { class: "field", "data-field": "content" }, h("label", {}, "Injection"), content, preview.element),
    h("fieldset", { class: "field", "data-field": "strategy" },
      h("legend", {}, "Strategy"),
      h("div", { class: "segmented" },
        strategies.map((st, i) => h("label", { title: st.description }, strategyInputs[i],
          h("span", {}, h("strong", {}, st.name.charAt(0).toUpperCase() + st.name.slice(1)), h("small", {}, st.description.split(/[;,(]/)[0])))))),
    scheduleField,
    sourceField,
    targets,
    stanceField,
    h("div", { class: "field field-inline", "data-field": "label" }, h("label", {}, "Branch name"), label),
    futures,
    h("footer", { class: "dialog-foot" },
      h("label", { class: "check" }, runAfter, " Run the new branch right away"),
      h("div", { class: "dialog-actions" }, cancel, submit)));
  cancel.addEventListener("click", () => dialog.close());
  if (!opts.submitSet) futures.hidden = true;
  syncStrategy();

  // The injection as the form says it (undefined: none), or the problem to show instead.
  const readInjection = () => {
    const { injection, missing } = build();
    if (missing) {
      return { problem: new ApiError(422, {
        detail: `A ${chosenStrategy().name} injection needs at least one agent to tell.`,
        errors: [{ field: "injection.targets", reason: "tick at least one agent" }],
      }) };
    }
    return injection ? { injection } : {};
  };
  const busy = async (button, fn) => {
    for (const b of [submit, futuresBtn]) b.disabled = true;
    button.classList.add("busy");
    try {
      await fn();
      dialog.close();
    } catch (err) {
      showProblem(form, problem, err);
    } finally {
      for (const b of [submit, futuresBtn]) b.disabled = false;
      button.classList.remove("busy");
    }
  };

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { injection, problem: invalid } = readInjection();
    if (invalid) return showProblem(form, problem, invalid);
    const body = { at_step: step };
    if (injection) body.injection = injection;
    body.label = label.value.trim() || (injection ? defaultLabel : `fork@${step}`);
    await busy(submit, () => opts.submit(body, runAfter.checked));
  });
  futuresBtn.addEventListener("click", async () => {
    const { injection, problem: invalid } = readInjection();
    if (invalid) return showProblem(form, problem, invalid);
    const n = Number(futuresN.value);
    if (!futuresN.value.trim() || !Number.isInteger(n)) {
      return showProblem(form, problem, new ApiError(422, {
        detail: "How many futures? A whole number.",
        errors: [{ field: "n", reason: `a whole number from 1 to ${MAX_ROLLOUTS}` }],
      }));
    }
    const body = { at_step: step, n };
    if (injection) body.injection = injection;
    await busy(futuresBtn, () => opts.submitSet(body));
  });
  const syncFutures = () => {
    const one = futuresN.value.trim() === "1";
    futuresWord.textContent = one ? "future" : "futures";
    futuresBtn.textContent = `Run ${futuresN.value.trim() || "N"} ${one ? "future" : "futures"}`;
  };
  futuresN.addEventListener("input", () => {
    syncFutures();
    if (futures.classList.contains("invalid")) showProblem(form, problem, null); // that error no longer applies
  });
  syncFutures();
  dialog.append(form);
  dialog.showModal();
  content.focus();
}
