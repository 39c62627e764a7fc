"""Project tooling that is neither the app nor the stubs: the contracts' compatibility gate."""
