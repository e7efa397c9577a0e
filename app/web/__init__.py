"""The web layer's shared parts: rendering, authentication, the error boundary and headers."""
