"""The reminder ladder: the sweep that mails, texts and pushes what the clocks say is due."""
