"""What tests/ and bench/ share: the scripted upstream, waiting, the app served live or under gunicorn, an API
client, a load generator, browser helpers and the string table for assertions. Not collected by pytest;
tests/conftest.py holds only fixtures."""
