"""Real-time serving: the local inference server (`serve`) and its helpers."""
