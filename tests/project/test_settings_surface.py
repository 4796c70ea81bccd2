"""One settings surface: every XW_* setting is declared in settings/base.py from the environment."""

import re
import subprocess
import sys
from pathlib import Path

from accounts.links import absolute_url, public_base_url

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_subprocess(env: dict, *names: str) -> list[str]:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='crm_project.settings.local';"
        "django.setup(); from django.conf import settings;"
        f"print('|'.join(str(getattr(settings, n)) for n in {names!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(ROOT / "var"), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().split("|")


def test_public_base_url_and_port_come_from_the_environment():
    assert _settings_in_subprocess({"PORT": "8101"}, "XW_PUBLIC_BASE_URL", "XW_LOCAL_BASE_URL") == [
        "",
        "http://127.0.0.1:8101",
    ]
    assert _settings_in_subprocess(
        {"XW_PUBLIC_BASE_URL": "https://crm.example.cn/", "XW_FEEDBACK_RATE_LINK_PER_MINUTE": "7"},
        "XW_PUBLIC_BASE_URL",
        "XW_FEEDBACK_RATE_LIMITS",
    ) == ["https://crm.example.cn", str({"address_per_minute": 5, "address_per_hour": 30,
                                         "link_per_minute": 7})]  # fmt: skip


def test_links_without_a_public_url_use_the_local_port(settings, rf):
    settings.XW_PUBLIC_BASE_URL = ""
    settings.XW_LOCAL_BASE_URL = "http://127.0.0.1:8101"
    assert public_base_url() == "http://127.0.0.1:8101"
    assert absolute_url("/f/x/") == "http://127.0.0.1:8101/f/x/"
    settings.ALLOWED_HOSTS = ["shop.example.cn"]
    request = rf.get("/admin/", HTTP_HOST="shop.example.cn")
    assert absolute_url("/f/x/", request) == "http://shop.example.cn/f/x/"
    settings.XW_PUBLIC_BASE_URL = "https://crm.example.cn"
    assert absolute_url("/f/x/", request) == "https://crm.example.cn/f/x/"


def test_no_setting_is_read_with_a_default_of_its_own():
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        if path.parts[len(ROOT.parts)] in {".venv", "tests", "bench"}:
            continue
        if re.search(r"getattr\(\s*settings\s*,", path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_every_xw_setting_is_documented_in_the_readme():
    base = (ROOT / "crm_project" / "settings" / "base.py").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = set(re.findall(r'env(?:\.\w+)?\("((?:XW|IMPORT)_\w+)"', base))
    assert names, "no XW_* settings found"
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
