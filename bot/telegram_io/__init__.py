"""Everything in bot/ that talks to Telegram: the outbox sender, its pacing and transport, and
the order updates are processed in. bot/services and bot/db never import `telegram`.
"""
