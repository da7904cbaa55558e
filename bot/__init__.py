"""The Telegram bot: python-telegram-bot's application, its handlers, replies and jobs, wiring
`model` (the verdicts) and `storage` (the log) together. The command line is `cli`."""
