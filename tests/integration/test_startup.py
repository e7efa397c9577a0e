"""Start-up wiring: what a freshly started process sets from its settings before it serves."""

from typing import Any

from app.tracking.policies import configure_policy


async def test_a_new_web_process_follows_the_saved_sla_override(settings: Any, bound_engine: Any) -> None:
    from app.asgi import create_app
    from app.tracking.policies import current_policy

    (settings.data_dir / "sla_override.toml").write_text("[nodes.plan]\ndays = 6\n", encoding="utf-8")
    try:
        configure_policy(None)  # what a freshly started process holds before its entry point runs
        assert current_policy().nodes["plan"].get("days") != 6
        create_app(settings, engine=bound_engine)
        assert current_policy().nodes["plan"].get("days") == 6, "clocks started by web requests follow the override"
    finally:
        (settings.data_dir / "sla_override.toml").unlink()
        configure_policy(None)
