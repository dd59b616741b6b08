"""The test suite, a package so that tests import their helpers (tests.conftest,
tests.redisserver, tests.faultserver) by name."""
