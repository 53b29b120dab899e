"""Hand-designed reference networks, trained and quantized exactly like the searched ones, for comparison."""
