"""Use cases. Each public function owns its transaction and returns plain data.

Services never import telegram; they raise a ServiceError (bot/services/errors.py) with an
ErrorCode that handlers turn into a message in the user's language.
"""
