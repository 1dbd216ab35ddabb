"""Analysis over many futures: rollout sets (``rollouts``) and their statistics."""
