"""Settings come from the environment only, and every one of them is documented."""

from pathlib import Path

import pytest

from app.settings import Settings, documented_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_make_a_self_contained_instance(tmp_path: Path) -> None:
    settings = Settings.from_env({"CROSSCLAIM_DATA_DIR": str(tmp_path / "fresh")})
    assert settings.data_dir == (tmp_path / "fresh").resolve()
    assert settings.database_url == f"sqlite:///{settings.data_dir / 'crossclaim.sqlite3'}"
    assert settings.redis_url == ""
    # The secret is generated once and kept: a second start reads the same one.
    again = Settings.from_env({"CROSSCLAIM_DATA_DIR": str(tmp_path / "fresh")})
    assert settings.secret_key == again.secret_key and len(settings.secret_key) >= 48
    assert (settings.data_dir / "secret_key").stat().st_mode & 0o077 == 0


def test_values_are_converted_and_bad_ones_named(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CROSSCLAIM_DATA_DIR": str(tmp_path),
            "CROSSCLAIM_SECURE_COOKIES": "yes",
            "CROSSCLAIM_SESSION_IDLE_MINUTES": "15",
            "DATABASE_URL": "postgresql://db/cc",
        }
    )
    assert settings.secure_cookies is True
    assert settings.session_idle_minutes == 15
    assert not settings.is_sqlite
    with pytest.raises(ValueError, match="CROSSCLAIM_SESSION_IDLE_MINUTES must be a whole number"):
        Settings.from_env({"CROSSCLAIM_DATA_DIR": str(tmp_path), "CROSSCLAIM_SESSION_IDLE_MINUTES": "soon"})
    with pytest.raises(ValueError, match="CROSSCLAIM_SECURE_COOKIES"):
        Settings.from_env({"CROSSCLAIM_DATA_DIR": str(tmp_path), "CROSSCLAIM_SECURE_COOKIES": "maybe"})


def test_every_setting_is_documented_in_operations() -> None:
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    missing = [env for env, _, _ in documented_settings() if f"`{env}`" not in operations]
    assert missing == [], f"document these settings in docs/OPERATIONS.md: {missing}"
    assert all(help_text.strip() for _, _, help_text in documented_settings())


def test_an_unknown_company_time_zone_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"CROSSCLAIM_TIME_ZONE must be an IANA time zone .* not 'Mars/Olympus'"):
        Settings.from_env({"CROSSCLAIM_DATA_DIR": str(tmp_path), "CROSSCLAIM_TIME_ZONE": "Mars/Olympus"})
    chosen = Settings.from_env({"CROSSCLAIM_DATA_DIR": str(tmp_path), "CROSSCLAIM_TIME_ZONE": "Europe/Berlin"})
    assert chosen.time_zone == "Europe/Berlin"


def test_fault_points_are_armed_only_with_the_test_hooks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from app import faults

    monkeypatch.setenv("CROSSCLAIM_TEST_CRASH", "after_claim")
    fired: list[str] = []
    monkeypatch.setattr(faults, "_die", lambda: fired.append("died"))
    faults.arm_for_tests(Settings(data_dir=tmp_path, test_hooks=False))
    faults.fault_point("sweep.after_claim")
    assert fired == [], "a production process never arms a fault, whatever its environment says"
    faults.arm_for_tests(Settings(data_dir=tmp_path, test_hooks=True))
    faults.fault_point("sweep.after_claim")
    faults.fault_point("somewhere.else")
    assert fired == ["died"]
    faults.arm_for_tests(Settings(data_dir=tmp_path, test_hooks=False))
