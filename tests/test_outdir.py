"""An --out the OS refuses is one line and exit 2, before Ray starts or the data loads (issue 17, item 2)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli.outdir import OutDirError, check_writable
from tests.test_search import write_space

ROOT = Path(__file__).resolve().parents[1]
LONG = "x" * 300  # longer than any file system allows one name to be


def _refusals(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Folders the OS will not give us, and the reason the message must carry."""
    (tmp_path / "a-file").write_text("not a folder")
    cases = {"a file": (tmp_path / "a-file", "a-file is a file, not a folder"),
             "under a file": (tmp_path / "a-file" / "sub", "a-file is a file, not a folder"),
             "a name too long": (tmp_path / LONG / "sub", "(File name too long)")}
    if os.path.isdir("/sys"):  # sysfs takes no new folder at its top, from anyone, root included
        cases["a path the OS refuses"] = (Path("/sys/sharesnet-out"), "cannot write /sys/sharesnet-out")
    if os.getuid() != 0:  # root writes through permission bits
        ro = tmp_path / "read-only"
        ro.mkdir(mode=0o555)
        cases["no permission"] = (ro / "out", "(Permission denied)")
    return cases


def test_every_refusal_is_one_line_naming_the_flag_and_the_reason(tmp_path):
    for case, (folder, reason) in _refusals(tmp_path).items():
        with pytest.raises(OutDirError) as e:
            check_writable(folder, f"--out {folder}")
        text = str(e.value)
        assert text.startswith(f"--out {folder}: ") and reason in text and "\n" not in text, (case, text)


def test_a_writable_folder_passes_and_nothing_is_left_behind(tmp_path):
    check_writable(tmp_path / "new" / "deeper", "--out x")
    assert list(tmp_path.iterdir()) == []  # created to ask the OS, then removed again
    (tmp_path / "there").mkdir()
    check_writable(tmp_path / "there", "--out x")
    assert list((tmp_path / "there").iterdir()) == []


@pytest.mark.parametrize("script,args", [
    ("search.py", ["--space", "SPACE"]),
    ("train_final.py", ["--preset", "cifar_resnet20", "--dataset", "digits", "--epochs", "1"]),
])
def test_both_commands_refuse_an_unwritable_out_before_ray_or_data(tmp_path, script, args):
    space = write_space(tmp_path)
    (tmp_path / "a-file").write_text("")
    for out, reason in ((tmp_path / "a-file", "is a file, not a folder"),):  # the other reasons: above
        argv = [str(space) if a == "SPACE" else a for a in args] + ["--out", str(out)]
        p = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *argv], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert p.returncode == 2, p.stderr[-2000:]
        assert p.stderr.strip().splitlines() == [p.stderr.strip()] and p.stderr.startswith(f"error: --out {out}: ")
        assert reason in p.stderr and "Traceback" not in p.stderr
        assert "Ray" not in p.stdout and "data:" not in p.stdout and "job(s)" not in p.stdout, p.stdout
