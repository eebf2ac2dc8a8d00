"""Azure operations: provision, register, publish, submit, invoke."""
