// Small DOM helpers and formatting shared by every view. No framework: plain elements.

const SVG_NS = "http://www.w3.org/2000/svg";

function applyAttrs(el, attrs, svg) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (!svg && (k === "value" || k === "checked" || k === "disabled")) el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An HTML element: h("div", {class: "x", onclick: fn}, child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  applyAttrs(el, attrs, false);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs, true);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Calm, distinct colours for agents (readable on white, as text and as fills).
export const AGENT_COLORS = [
  "#3f5bd8", "#d9622b", "#2f8a4c", "#9b45c4", "#138a9e", "#c93b6b",
  "#6b7f12", "#b7791f", "#2c4a9a", "#b4413c", "#0f766e", "#7048c8",
];

/** Branch colours in the compare view: A and B. */
export const A_COLOR = "#3f5bd8";
export const B_COLOR = "#e0672a";

export function initials(name) {
  const parts = String(name || "?").replace(/[^\p{L}\p{N} ]/gu, " ").split(/\s+/).filter(Boolean);
  const skip = new Set(["mayor", "dr", "mr", "mrs", "ms"]);
  const useful = parts.filter((p) => !skip.has(p.toLowerCase()));
  const pick = useful.length ? useful : parts;
  if (!pick.length) return "?";
  if (pick.length === 1) return pick[0].slice(0, 2).toUpperCase();
  return (pick[0][0] + pick[pick.length - 1][0]).toUpperCase();
}

export function isNumber(v) {
  return typeof v === "number" && Number.isFinite(v);
}

/** A number for people: thousands separators, at most 3 significant decimals. */
export function fmtNum(v, { signed = false, digits } = {}) {
  if (!isNumber(v)) return String(v);
  const abs = Math.abs(v);
  const d = digits ?? (abs >= 1000 ? 2 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3);
  const text = v.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 });
  return signed && v > 0 ? `+${text}` : text.replace("-", "−");
}

export function fmtValue(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (isNumber(v)) return fmtNum(v);
  if (Array.isArray(v)) return v.map(fmtValue).join(" → ");
  if (typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${fmtValue(x)}`).join(", ");
  return String(v);
}

export function fmtStance(v) {
  if (!isNumber(v)) return "—";
  const t = (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(2);
  return t;
}

/** Words for a stance in -1..1 (the scale of the opinion examples). */
export function stanceWord(v) {
  if (!isNumber(v)) return "";
  if (v <= -0.6) return "strongly against";
  if (v <= -0.2) return "against";
  if (v < 0.2) return "undecided";
  if (v < 0.6) return "for";
  return "strongly for";
}

/** A small diverging bar for a value in -1..1. */
export function stanceBar(v, { wide = false } = {}) {
  const bar = h("span", { class: `stance-bar${wide ? " wide" : ""}`, "aria-hidden": "true" });
  if (isNumber(v)) {
    const c = Math.max(-1, Math.min(1, v));
    const fill = h("span", { class: `stance-fill ${c < 0 ? "neg" : "pos"}` });
    fill.style.left = c < 0 ? `${50 + c * 50}%` : "50%";
    fill.style.width = `${Math.abs(c) * 50}%`;
    bar.append(fill);
  }
  return bar;
}

export function humanise(name) {
  return String(name).replace(/[_.]+/g, " ");
}

export function shortId(id) {
  return String(id || "").slice(0, 8);
}

export function timeAgo(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const sec = Math.round((Date.now() - t) / 1000);
  if (sec < 45) return "just now";
  const min = Math.round(sec / 60);
  if (min < 60) return `${min} min ago`;
  const hr = Math.round(min / 60);
  if (hr < 24) return `${hr} h ago`;
  return new Date(t).toLocaleDateString();
}

/**
 * Turns a control off because the key may not do `action` ("write", "delete"): `reason` becomes
 * its tooltip and `data-denied` names the action. With no reason it is left on, titled `title`.
 * Returns true when it is allowed.
 */
export function setDenied(el, action, reason, title = "") {
  if (reason) {
    el.disabled = true;
    el.title = reason.replace(/^\w/, (c) => c.toUpperCase());
    el.dataset.denied = action;
  } else {
    el.title = title;
    delete el.dataset.denied;
  }
  return !reason;
}

/**
 * Show a short-lived notice (errors stay longer, until dismissed). A notice belongs to the
 * screen it was shown on and goes when you navigate away; `carry: true` is for one shown just
 * before a navigation it announces ("Forked …"): it stays on the next screen only.
 */
export function toast(message, { kind = "info", detail, carry = false } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const close = h("button", { class: "toast-close", type: "button", "aria-label": "Dismiss" }, "×");
  const el = h("div", { class: `toast toast-${kind}`, "data-testid": `toast-${kind}`, "data-carry": carry ? "1" : null },
    h("div", { class: "toast-body" }, h("strong", {}, message), detail ? h("div", { class: "toast-detail" }, detail) : null),
    close);
  close.addEventListener("click", () => el.remove());
  box.append(el);
  // it stays while the pointer is on it (being read), then for its full time again
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => el.remove(), kind === "error" ? 12000 : 4000);
  };
  el.addEventListener("mouseenter", () => clearTimeout(timer));
  el.addEventListener("mouseleave", arm);
  arm();
}

/** On navigation: the old screen's notices go; a carried one stays for this screen only. */
export function clearToasts() {
  for (const el of document.querySelectorAll("#toasts .toast")) {
    if (el.dataset.carry) delete el.dataset.carry;
    else el.remove();
  }
}
