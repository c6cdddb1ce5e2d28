"""batchcost test suite (a package so helpers such as tests.fakegemini can be imported)."""
