// What the server knows how to do (GET /v1/meta): injection strategies with their
// parameters, persona traits, brain kinds. Loaded once per page (app.js, before any view);
// nothing here is hard-coded.

import { api } from "./api.js";

/** The Big Five trait names, in the server's order (filled by loadMeta). */
export const TRAITS = [];
/** The traits that drift by default (a new persistent agent's adaptive ones). */
export const ADAPTIVE_DEFAULT = [];

let loading = null;
let loaded = false;

/** The server's meta (a promise, fetched once; a failed fetch is retried next time). */
export function loadMeta() {
  if (!loading) {
    loading = api.meta().then((meta) => {
      if (!loaded) {
        TRAITS.push(...meta.traits.big_five);
        ADAPTIVE_DEFAULT.push(...meta.traits.adaptive_default);
        loaded = true;
      }
      return meta;
    }, (err) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}

export const metaLoaded = () => loaded;

/** A strategy's parameter by name, or undefined. */
export function parameter(strategy, name) {
  return (strategy.parameters || []).find((p) => p.name === name);
}
