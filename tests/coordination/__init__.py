"""Tests of idenfy_async's coordination (mirrors the package's folders)."""
