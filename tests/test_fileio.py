"""Safe output files on a real folder: atomic replacement, permissions, backups, lock files."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from aftersales_xl.errors import LockedError
from aftersales_xl.reading.opening import distinct_paths
from aftersales_xl.writing.fileio import (
    atomic_output,
    backup_copy,
    backup_paths,
    excel_lock_path,
    find_lock_file,
    refuse_if_open_in_excel,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield
    os.umask(old)


def workbook(path: Path, value: str) -> Path:
    book = openpyxl.Workbook()
    book.active["A1"] = value
    book.save(path)
    return path


def a1(path: Path) -> str:
    return openpyxl.load_workbook(path).active["A1"].value


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- atomic_output ------------------------------------------------------------------------------


def test_writes_a_new_file_through_a_hidden_temp_file_in_the_same_folder(tmp_path):
    target = tmp_path / "总台账.xlsx"
    with atomic_output(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp != target
        assert not target.exists()  # nothing visible until the write is complete
        workbook(tmp, "新内容")
    assert a1(target) == "新内容"
    assert names(tmp_path) == ["总台账.xlsx"]


def test_replaces_an_existing_file(tmp_path):
    target = workbook(tmp_path / "r.xlsx", "旧")
    with atomic_output(target) as tmp:
        workbook(tmp, "新")
    assert a1(target) == "新" and names(tmp_path) == ["r.xlsx"]


def test_failure_mid_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = workbook(tmp_path / "r.xlsx", "旧")
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="disk full"), atomic_output(target) as tmp:
        tmp.write_bytes(b"PK\x03\x04 half a workbook")
        raise RuntimeError("disk full")
    assert target.read_bytes() == before and a1(target) == "旧"
    assert names(tmp_path) == ["r.xlsx"]


def test_interrupt_mid_write_also_cleans_up(tmp_path):
    target = workbook(tmp_path / "r.xlsx", "旧")
    with pytest.raises(KeyboardInterrupt), atomic_output(target) as tmp:
        workbook(tmp, "半途")
        raise KeyboardInterrupt
    assert a1(target) == "旧" and names(tmp_path) == ["r.xlsx"]


def test_failure_before_any_target_exists_leaves_nothing(tmp_path):
    with pytest.raises(ValueError), atomic_output(tmp_path / "new.xlsx"):
        raise ValueError("bad data")
    assert names(tmp_path) == []


def test_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_output(tmp_path / "nope" / "r.xlsx"):
        pytest.fail("the block must not run")


@posix_only
def test_new_file_gets_the_normal_permissions_for_the_umask(tmp_path, umask_027):
    target = tmp_path / "r.xlsx"
    with atomic_output(target) as tmp:
        workbook(tmp, "x")
    assert target.stat().st_mode & 0o777 == 0o640  # 0o666 & ~0o027, not mkstemp's 0o600


@posix_only
def test_existing_file_keeps_its_permissions(tmp_path, umask_027):
    target = workbook(tmp_path / "r.xlsx", "旧")
    os.chmod(target, 0o604)
    with atomic_output(target) as tmp:
        workbook(tmp, "新")
    assert target.stat().st_mode & 0o777 == 0o604


@posix_only
def test_explicit_mode_wins(tmp_path):
    target = tmp_path / "private.xlsx"
    with atomic_output(target, mode=0o600) as tmp:
        workbook(tmp, "x")
    assert target.stat().st_mode & 0o777 == 0o600


# -- backup_copy ------------------------------------------------------------------------------


def test_backup_is_a_dated_copy_beside_the_file(tmp_path):
    target = workbook(tmp_path / "总台账.xlsx", "第一版")
    backup = backup_copy(target, keep=3, now=datetime(2024, 6, 10, 9, 5, 7))
    assert backup == tmp_path / "总台账.bak-20240610-090507.xlsx"
    assert backup.read_bytes() == target.read_bytes() and a1(backup) == "第一版"
    assert names(tmp_path) == ["总台账.bak-20240610-090507.xlsx", "总台账.xlsx"]


def test_rotation_keeps_the_newest_n_and_touches_nothing_else(tmp_path):
    target = workbook(tmp_path / "总台账.xlsx", "v0")
    others = [
        workbook(tmp_path / "总台账2.bak-20200101-000000.xlsx", "另一个文件的备份"),
        workbook(tmp_path / "第1组.xlsx", "提交"),
    ]
    start = datetime(2024, 6, 10, 9, 0)
    made = []
    for i in range(5):
        workbook(target, f"v{i}")
        made.append(backup_copy(target, keep=3, now=start + timedelta(days=i)))
    assert backup_paths(target) == made[2:]
    assert [a1(p) for p in backup_paths(target)] == ["v2", "v3", "v4"]
    assert all(p.exists() for p in others) and target.exists()
    assert len(names(tmp_path)) == 1 + 3 + len(others)


def test_two_backups_in_the_same_second_both_kept_in_order(tmp_path):
    target = workbook(tmp_path / "r.xlsx", "a")
    now = datetime(2024, 6, 10, 9, 0, 0)
    first = backup_copy(target, keep=5, now=now)
    workbook(target, "b")
    second = backup_copy(target, keep=5, now=now)
    assert second.name == "r.bak-20240610-090000-2.xlsx"
    assert backup_paths(target) == [first, second]
    workbook(target, "c")
    third = backup_copy(target, keep=1, now=now)
    assert backup_paths(target) == [third] and a1(third) == "c"


def test_nothing_to_back_up_or_backups_off(tmp_path):
    assert backup_copy(tmp_path / "missing.xlsx", keep=3) is None
    target = workbook(tmp_path / "r.xlsx", "a")
    old = workbook(tmp_path / "r.bak-20240101-000000.xlsx", "old")
    assert backup_copy(target, keep=0) is None
    assert names(tmp_path) == [old.name, "r.xlsx"]  # keep=0 copies and deletes nothing
    with pytest.raises(ValueError):
        backup_copy(target, keep=-1)


@posix_only
def test_backup_keeps_the_permissions_of_a_private_file(tmp_path):
    target = workbook(tmp_path / "r.xlsx", "a")
    os.chmod(target, 0o600)
    backup = backup_copy(target, keep=2)
    assert backup is not None and backup.stat().st_mode & 0o777 == 0o600


# -- lock files -------------------------------------------------------------------------------


def test_excel_lock_path():
    assert excel_lock_path(Path("/data/总台账.xlsx")) == Path("/data/~$总台账.xlsx")


def test_not_open_means_no_refusal(tmp_path):
    target = workbook(tmp_path / "总台账.xlsx", "a")
    assert find_lock_file(target) is None
    refuse_if_open_in_excel(target)  # no exception
    refuse_if_open_in_excel(tmp_path / "new.xlsx")


@pytest.mark.parametrize("lock", ["~$总台账.xlsx", ".~lock.总台账.xlsx#"])
def test_open_in_excel_or_libreoffice_is_refused(tmp_path, lock):
    target = workbook(tmp_path / "总台账.xlsx", "a")
    (tmp_path / lock).write_bytes(b"owner")
    assert find_lock_file(target) == tmp_path / lock
    with pytest.raises(LockedError) as e:
        refuse_if_open_in_excel(target)
    message = str(e.value)
    assert "总台账.xlsx" in message and "关闭" in message and "\n" not in message
    # the lock may be LibreOffice's: the message does not claim it is Excel
    assert "正在被其他程序打开（Excel/WPS/LibreOffice" in message and lock in message
    with pytest.raises(LockedError, match="open in another program .*close it"):
        refuse_if_open_in_excel(target, "en")
    assert e.value.exit_code == 2


def test_distinct_paths_keeps_the_first_spelling_of_each_file(tmp_path):
    a = workbook(tmp_path / "a.xlsx", "a")
    b = workbook(tmp_path / "b.xlsx", "b")
    (tmp_path / "link.xlsx").symlink_to(a)
    given = [a, b, tmp_path / "sub" / ".." / "a.xlsx", tmp_path / "link.xlsx", b]
    assert distinct_paths(given) == [a, b]


def test_expand_paths_lists_a_file_reached_twice_once(tmp_path):
    from aftersales_xl.reading.opening import expand_paths

    a = workbook(tmp_path / "a.xlsx", "a")
    b = workbook(tmp_path / "b.xlsx", "b")
    assert expand_paths([tmp_path, a, str(b)]) == [a, b]
