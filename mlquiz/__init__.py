"""mlquiz: practise the mathematics of machine learning by implementing it."""

__version__ = "0.1.0"
