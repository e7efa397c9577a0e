"""Channels that reach people: email, web push, SMS and in-app notifications."""
