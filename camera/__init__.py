"""Camera watchers (`maskbot watch`): a door camera's stream, sampled, its faces found, followed
and judged by the bot's own model, and the people counted per minute by verdict, with nothing
personal kept. See docs/cameras.md."""
