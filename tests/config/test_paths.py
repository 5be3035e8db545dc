"""Output paths are checked before the work starts (issue 13, item 9)."""

from __future__ import annotations

import pytest

from pointing.config.paths import writable_dir, writable_file
from pointing.errors import ConfigError


def test_a_writable_file_passes_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "plot.png"
    assert writable_file(target, "--plot") == target
    assert list(tmp_path.iterdir()) == []
    assert writable_file(None, "--plot") is None


@pytest.mark.parametrize(("make", "pattern"), [
    (lambda d: d / "no" / "dir" / "p.png", r"^--plot: cannot write .*p\.png: no such directory"),
    (lambda d: d, r"^--plot: .* is a directory"),
    (lambda d: "/sys/p.png", r"^--plot: cannot write /sys/p\.png"),
])
def test_bad_output_files_name_the_option_and_path(tmp_path, make, pattern):
    with pytest.raises(ConfigError, match=pattern):
        writable_file(make(tmp_path), "--plot")


def test_output_directories(tmp_path):
    made = writable_dir(tmp_path / "a" / "b", "--out")
    assert made.is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match=r"^--out: .*f exists and is not a directory"):
        writable_dir(tmp_path / "f", "--out")
    with pytest.raises(ConfigError, match=r"^--out: no such directory"):
        writable_dir(tmp_path / "missing", "--out", create=False)
    with pytest.raises(ConfigError, match=r"^--out: cannot create /sys/night"):
        writable_dir("/sys/night", "--out")
