"""The exchange between officials of peer cities, one use case a module (asking, delivery
records, answering, closing, lists, manual routing, volunteering); callers import the module
they need. Threads are keyed on ids that never change: every message the bot delivers is
logged with (delivered_chat_id, delivered_message_id), and a reply to it is looked up there.
"""
