"""Operations: Prometheus metrics (``metrics``), serving them (``serving``) and structured
logs (``logs``). Depends on nothing else in AegntiX but ``errors``, so every layer may
count into it (``docs/observability.md``)."""
