"""Node time limits (clocks), their policies and reminder claims."""
