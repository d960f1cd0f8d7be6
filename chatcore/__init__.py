"""The chat core: providers, the chat service, validation and export. No Dash imports here."""
