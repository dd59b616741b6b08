"""Tests of idenfy_async's transports (mirrors the package's folders)."""
