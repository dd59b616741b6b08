"""Tests of idenfy_async's send (mirrors the package's folders)."""
