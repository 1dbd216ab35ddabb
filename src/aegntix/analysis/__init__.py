"""Analysis over many futures: rollout sets (``rollouts``, ``records``) and their statistics
(``stats``: summaries, intervention effects, per-step bands and split steps). Nothing is
imported here, so the CLI does not pay for scipy until a command needs it."""
