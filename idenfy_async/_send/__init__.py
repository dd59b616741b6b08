"""One call on the wire: the sender and its attempts (the one boundary where httpx
errors become ours), admission (cooldown, rate token, concurrency slot), retry,
per-call options, logging and downloads."""
