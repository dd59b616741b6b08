"""Tests of idenfy_async's cli (mirrors the package's folders)."""
