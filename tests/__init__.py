"""The test suite, a package so that tests import their helpers (tests.conftest,
tests.support.redisserver, tests.support.faultserver) by name."""
