"""Training: options, loss, loop, resumable state, transfer learning and multi-process setup."""
