"""Node time limits, reminders and notifications."""
