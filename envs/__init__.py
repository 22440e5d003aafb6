"""CollectGoodObjects domain-shift environments (work in progress in this commit)."""
