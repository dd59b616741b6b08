"""Sans-I/O: what each endpoint sends (`common.RequestSpec`) and how its answer
is read, the mapping of answers to errors, and the one converter with its hooks. No
httpx, no asyncio, no clock."""
