"""Customer and marketing services on Redis, free of Rasa so the CLI and
benchmarks use the same code as the actions."""
