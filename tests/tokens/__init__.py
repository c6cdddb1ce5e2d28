"""Tests of batchcost.tokens."""
