"""Providers files for tests: two scripted backends named alpha and beta, with keys read from the environment."""

from testkit.app import TEST_KEY

OTHER_KEY = "sk-other-SECRET-77b2e0"


def providers_file(tmp_path, text):
    """Write a providers file and return the environment that points at it (with the keys it names)."""
    path = tmp_path / "providers.toml"
    path.write_text(text, encoding="utf-8")
    return {"PROVIDERS_FILE": str(path), "ALPHA_KEY": TEST_KEY, "BETA_KEY": OTHER_KEY, "REQUEST_TIMEOUT": "5"}


def two_providers(tmp_path, alpha_url, beta_url, beta_models='"auto"', alpha_models='["scripted", "shared"]'):
    """alpha: a fixed model list by default; beta: its list read from the backend by default."""
    return providers_file(tmp_path, f"""
[[providers]]
name = "alpha"
base_url = "{alpha_url}"
api_key_env = "ALPHA_KEY"
models = {alpha_models}

[[providers]]
name = "beta"
base_url = "{beta_url}"
api_key_env = "BETA_KEY"
models = {beta_models}
""")
