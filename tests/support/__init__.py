"""Helpers the tests share: fixture builders, local fakes of hosted APIs, loopback servers."""
