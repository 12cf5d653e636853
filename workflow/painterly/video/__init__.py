"""Video on top of the engine: temporal chains, optical flow, shots and chunks, the seams
between chunks, and the warp error that measures the result."""
