"""The built-in strategies: momentum, mean reversion and the classic SMA crossover."""
